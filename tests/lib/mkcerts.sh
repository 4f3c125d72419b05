#!/bin/sh
# SPDX-License-Identifier: MIT
# mkcerts.sh DIR: makes throw-away TLS material for tests (EC P-256, valid
# 30 days) in DIR, which is created if missing. Prints nothing; exit 0 or
# non-zero with openssl's message. Files (each .pem has its .key):
#   ca.pem                 the test CA: what clients under test trust
#   server.pem             server cert for 127.0.0.1 and localhost
#                          (SAN IP:127.0.0.1, DNS:localhost), signed by ca.pem
#   server.pin             "sha256//BASE64" of server.pem's public key (curl's
#                          CURLOPT_PINNEDPUBLICKEY form)
#   wrong-host.pem         signed by ca.pem but for wrong-host.invalid only:
#                          a server using it fails host name verification
#   other-ca.pem           an unrelated CA ("unknown CA" tests)
#   other-server.pem       for 127.0.0.1/localhost, signed by other-ca.pem: a
#                          server using it fails verification against ca.pem
#   renewed.pem            like server.pem, with a key of its own: the
#                          certificate a renewal brings (reload tests)
#   renewed.pin            its key's pin, as server.pin
# Example: tests/lib/mkcerts.sh "$tmp" && syncd --cert "$tmp/server.pem"
#          --key "$tmp/server.key" ...   (client: CAfile "$tmp/ca.pem")
set -eu

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
cd "$dir"

# ca NAME CN: a self-signed CA
ca() {
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -keyout "$1.key" -out "$1.pem" -days 30 -subj "/CN=$2" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# leaf NAME CA SAN: a server certificate signed by CA
leaf() {
        printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
                "$3" >"$1.ext"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -keyout "$1.key" -out "$1.csr" -subj "/CN=${3#*:}" 2>/dev/null
        openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
                -days 30 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
        rm -f "$1.csr" "$1.ext"
}

ca ca "bridged test CA"
ca other-ca "unrelated test CA"
leaf server ca "IP:127.0.0.1,DNS:localhost"
leaf wrong-host ca "DNS:wrong-host.invalid"
leaf other-server other-ca "IP:127.0.0.1,DNS:localhost"
leaf renewed ca "IP:127.0.0.1,DNS:localhost"
for name in server renewed; do
        printf 'sha256//%s\n' "$(openssl pkey -in "$name.key" -pubout -outform DER 2>/dev/null |
                openssl dgst -sha256 -binary | base64)" >"$name.pin"
done
chmod 600 ./*.key

# SPDX-License-Identifier: MIT
# tests/openapi/: docs/sync-api.yaml, the OpenAPI 3.1 description of the sync
# API, checked two ways. check-openapi.sh: a real validator from npm, pinned
# in package.json and package-lock.json here and installed into $(B)/openapi.
# test-sync-api.py: the YAML's schemas and examples, and syncd's real answers
# to every endpoint and error held against them (python3-jsonschema).
TESTS += tests/openapi/check-openapi.sh tests/openapi/test-sync-api.py

tests/openapi/check-openapi.sh: $(B)/openapi/installed
tests/openapi/test-sync-api.py: $(B)/server/syncd

# npm ci of exactly the pinned versions. It never fails the build: without
# npm or the registry it leaves the reason in $(B)/openapi/missing, and
# check-openapi.sh skips saying so (the next make tries again).
OPENAPI_NPM_FLAGS := --no-audit --no-fund --ignore-scripts --prefer-offline --fetch-retries=1 --fetch-timeout=60000

$(B)/openapi/installed: tests/openapi/package.json tests/openapi/package-lock.json
	@mkdir -p $(@D) && rm -f $@ $(@D)/missing && cp $^ $(@D)/
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm is not installed (Debian: nodejs and npm)" >$(@D)/missing; \
	elif npm ci --prefix $(@D) $(OPENAPI_NPM_FLAGS) >$(@D)/npm.log 2>&1; then \
		touch $@; \
	else \
		echo "npm ci could not install the validator (no registry?): see $(@D)/npm.log" >$(@D)/missing; \
	fi

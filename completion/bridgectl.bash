# SPDX-License-Identifier: MIT
# bash completion for bridgectl(1): commands, options, keys, families, preset
# values for eq.active, files for eq import and export, and conflict ids
# asked of the running bridged (`bridgectl --json conflicts`, at most 2 s;
# nothing when it does not run).
# Installed as bash-completion/completions/bridgectl; works without
# bash-completion too (source it).

_bridgectl_conflict_ids() {
        local out
        out=$(timeout 2 bridgectl --json conflicts 2>/dev/null) || return 0
        # ListConflicts: [{"id":N,"key":...,"kept":{...},"lost":{...}},...];
        # records have no "id" member, so every "id" is a conflict's.
        printf '%s\n' "$out" | grep -o '"id":[0-9]*' | cut -d: -f2
}

_bridgectl() {
        local cur prev words cword
        if declare -F _init_completion >/dev/null 2>&1; then
                _init_completion -n : || return
        else
                cur=${COMP_WORDS[COMP_CWORD]}
                prev=${COMP_WORDS[COMP_CWORD - 1]}
                words=("${COMP_WORDS[@]}")
                cword=$COMP_CWORD
        fi

        local commands="status stats get set sync conflicts restore monitor eq help"
        local keys="profile eq.custom eq.active"
        local i cmd="" cmd_at=0
        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                -*) ;;
                *) cmd=${words[i]}; cmd_at=$i; break ;;
                esac
        done

        if [[ -z $cmd ]]; then
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--json -j --help --version -h" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
                fi
                return 0
        fi

        # the arguments after the command, options left out
        local args=() family_next=0
        for ((i = cmd_at + 1; i < cword; i++)); do
                case ${words[i]} in
                --family=*|--timeout=*) ;;
                --family|--timeout) family_next=1 ;;
                *) if ((family_next)); then family_next=0; else args+=("${words[i]}"); fi ;;
                esac
        done

        case $cmd in
        get)
                ((${#args[@]} == 0)) && COMPREPLY=($(compgen -W "$keys" -- "$cur"))
                ;;
        set)
                if [[ $prev == --family ]]; then
                        COMPREPLY=($(compgen -W "standard pro" -- "$cur"))
                elif [[ $cur == --family=* ]]; then
                        COMPREPLY=($(compgen -P "--family=" -W "standard pro" -- "${cur#--family=}"))
                elif [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--family" -- "$cur"))
                elif ((${#args[@]} == 0)); then
                        COMPREPLY=($(compgen -W "$keys" -- "$cur"))
                elif ((${#args[@]} == 1)) && [[ ${args[0]} == eq.active ]]; then
                        # inserted as typed, quotes and all: compgen would strip them
                        local p w
                        COMPREPLY=()
                        for p in flat bass_boost voice treble; do
                                w="'{\"preset\":\"$p\"}'"
                                [[ $w == "$cur"* ]] && COMPREPLY+=("$w")
                        done
                elif ((${#args[@]} == 1)) && [[ ${args[0]} != profile ]]; then
                        COMPREPLY=($(compgen -W "--family" -- "$cur"))
                fi
                ;;
        sync)
                if [[ $prev == --timeout ]]; then
                        COMPREPLY=()
                else
                        COMPREPLY=($(compgen -W "--timeout --no-block" -- "$cur"))
                fi
                ;;
        restore)
                ((${#args[@]} == 0)) && COMPREPLY=($(compgen -W "$(_bridgectl_conflict_ids)" -- "$cur"))
                ;;
        eq)
                if ((${#args[@]} == 0)); then
                        COMPREPLY=($(compgen -W "import export" -- "$cur"))
                elif ((${#args[@]} == 1)) && [[ ${args[0]} == import || ${args[0]} == export ]]; then
                        compopt -o filenames 2>/dev/null
                        COMPREPLY=($(compgen -f -- "$cur"))
                fi
                ;;
        conflicts)
                if ((${#args[@]} == 0)); then
                        COMPREPLY=($(compgen -W "dismiss" -- "$cur"))
                elif [[ ${args[0]} == dismiss && " ${args[*]} " != *" --all "* ]]; then
                        ((${#args[@]} == 1)) && [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--all" -- "$cur")) ||
                                COMPREPLY=($(compgen -W "$(_bridgectl_conflict_ids)" -- "$cur"))
                fi
                ;;
        esac
        return 0
} && complete -F _bridgectl bridgectl

# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for dmio(1)

_dmio_regions()
{
	local cur=$1 tags tag
	case $cur in
	UUID=* | LABEL=* | PARTUUID=* | PARTLABEL=*)
		tag=${cur%%=*}
		tags=$(blkid -s "$tag" -o value 2>/dev/null | sort -u)
		local IFS=$'\n'
		COMPREPLY=($(compgen -P "$tag=" -W "$tags" -- "${cur#*=}"))
		return
		;;
	esac
	COMPREPLY=($(compgen -W "UUID= LABEL= PARTUUID= PARTLABEL= nbd:// nbds:// nbd+unix:/// nbds+unix:///" -- "$cur"))
	local IFS=$'\n'
	COMPREPLY+=($(compgen -f -- "$cur"))
	if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
		compopt -o nospace
	else
		compopt -o filenames
	fi
}

_dmio()
{
	local cur prev words cword split
	_init_completion -s -n = || return

	local commands="copy verify read write zero info"
	local opts="--sync --async --engine= --buffer= --chunk= --queue-depth= --direct
		--no-direct --input= --output= --map= --keep-going --retries=
		--no-sparse --target-is-zero
		--write-changed --discard --first --max-ranges= --connections= --tls-psk=
		--tls-certificates= --server-timeout= --raw --hash= --hash-window= --hash-log= --digest-file=
		--rate= --dirty-bitmap= --changed-since= --progress --progress= --json --force
		--dry-run --no-flush --quiet --verbose --help --version
		-i -o -n -q -v -h -V"

	case $prev in
	--buffer)
		COMPREPLY=($(compgen -W "vm pages bvec" -- "$cur"))
		return
		;;
	--engine)
		COMPREPLY=($(compgen -W "uring aio sync" -- "$cur"))
		return
		;;
	--chunk)
		COMPREPLY=($(compgen -W "64K 256K 1M 4M 16M" -- "$cur"))
		return
		;;
	--queue-depth)
		COMPREPLY=($(compgen -W "1 4 8 16 32 64" -- "$cur"))
		return
		;;
	--hash)
		local algs="md5 sha1 sha256 sha512 sha3-256 blake2b-512 xxh128"
		COMPREPLY=($(compgen -W "$algs" -- "${cur##*,}"))
		[[ $cur == *,* ]] && COMPREPLY=("${COMPREPLY[@]/#/${cur%,*},}")
		return
		;;
	--hash-window)
		COMPREPLY=($(compgen -W "1M 16M 256M 1G" -- "$cur"))
		return
		;;
	--input | -i | --output | -o | --map | --tls-psk | --hash-log | --digest-file | --changed-since)
		_filedir
		return
		;;
	--tls-certificates)
		_filedir -d
		return
		;;
	--connections)
		COMPREPLY=($(compgen -W "1 2 4 8 16" -- "$cur"))
		return
		;;
	--max-ranges)
		COMPREPLY=($(compgen -W "0 10 100 1000 10000" -- "$cur"))
		return
		;;
	--rate)
		COMPREPLY=($(compgen -W "10M 50M 100M 200M" -- "$cur"))
		return
		;;
	--progress)
		# Only as --progress=...: a bare --progress takes no argument.
		if $split; then
			COMPREPLY=($(compgen -W "fd:" -- "$cur"))
			compopt -o nospace
			return
		fi
		;;
	--retries)
		COMPREPLY=($(compgen -W "0 1 2 3" -- "$cur"))
		return
		;;
	--server-timeout)
		COMPREPLY=($(compgen -W "10 30 60 300" -- "$cur"))
		return
		;;
	--help | -h | --version | -V)
		return
		;;
	esac
	$split && return

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		[[ ${COMPREPLY-} != *= ]] || compopt -o nospace
		return 0
	fi

	# The command is the first word that is not an option or an option's value.
	local i cmd=
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-i | -o | --input | --output | --map | --buffer | --chunk | --queue-depth | --max-ranges | --rate | --retries | --dirty-bitmap | --changed-since)
			((i++))
			;;
		-*) ;;
		*)
			cmd=${words[i]}
			break
			;;
		esac
	done
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		return
	fi
	_dmio_regions "$cur"
}
complete -F _dmio dmio

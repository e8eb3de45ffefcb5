#!/usr/bin/env bash
# The main job: a demonstration on a throwaway security database and PKI.
# It grows with each issue; for now it shows the security database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NSS_SECURITY_DB="$work/security.db"

say() { printf '\n=== %s\n' "$*"; }

say "Run the example job from docs/security.md on a fresh database"
nss-racf --file "$here/../docs/examples/nss-setup.racf"
ls -l "$work"

say "SETROPTS LIST"
nss-racf "SETROPTS LIST"
say "LISTUSER CLIENT1"
nss-racf "LISTUSER CLIENT1"
say "RLIST SERVAUTH EZB.NETMGMT.NSSSYS.*.IPSEC.CONTROL AUTHUSER"
nss-racf "RLIST SERVAUTH EZB.NETMGMT.NSSSYS.*.IPSEC.CONTROL AUTHUSER"
say "RLIST PTKTDATA NSSD (the key is sealed; only its presence shows)"
nss-racf "RLIST PTKTDATA NSSD"
say "RACDCERT ID(NSSD) LISTRING(*)"
nss-racf "RACDCERT ID(NSSD) LISTRING(*)"

say "A bad command changes nothing and names the line (exit status 1)"
printf 'ADDUSER NEWUSER\nRDEFINE SERVAUTH EZB.X UACC(READ) COLOUR(BLUE)\n' > "$work/bad.racf"
nss-racf --file "$work/bad.racf" || echo "exit status $?"
nss-racf "LISTUSER NEWUSER" || echo "exit status $?"

say "nss-passticket for CLIENT2 at application NSSD, fixed time 1800000000"
nss-passticket --userid CLIENT2 --applname NSSD --key E001193519561977 --time 1800000000

say "The library: logons, decisions, signatures, tampering"
python "$here/security_demo.py" "$NSS_SECURITY_DB"

#!/usr/bin/env bash
# The main job: a demonstration on a throwaway security database and PKI.
# It grows with each issue: the security database, nssd, iked and its
# stacks, nss-ipsec, and IKEv2 with a strongSwan peer (as root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
nssd_pid=
iked_pid=
charon_pid=
ike_ns=
ha_pids=
pg_data=
pg_socket=
as_postgres=()
cleanup() {
    for pid in $charon_pid $iked_pid $nssd_pid $ha_pids; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$pg_data" ]; then
        "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop \
            >/dev/null 2>&1 || true
    fi
    if [ -n "$pg_socket" ]; then
        rm -rf "$pg_socket"
    fi
    if [ -n "$ike_ns" ]; then
        ip netns del "$ike_ns" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
export NSS_SECURITY_DB="$work/security.db"

say() { printf '\n=== %s\n' "$*"; }
# Show a command as a newcomer would type it ($WORK is the throwaway
# folder), then run it.
show() {
    local arg line= plain='^[A-Za-z0-9_./:=@%+,$-]+$' special='["`\\]'
    for arg in "$@"; do
        arg=${arg//"$work"/\$WORK}
        if [ -n "$pg_socket" ]; then
            arg=${arg//"$pg_socket"/\$PGSOCKET}
        fi
        if [[ $arg =~ $plain ]]; then
            line+="$arg "
        elif [[ $arg != *\'* ]]; then
            line+="'$arg' "
        elif ! [[ $arg =~ $special ]]; then
            line+="\"$arg\" "
        else
            line+="'${arg//\'/\'\\\'\'}' "
        fi
    done
    # On standard error, so that a filter after the command leaves it be.
    printf '$ %s\n' "$line" >&2
}
run() { show "$@"; "$@"; }

say "Run the example job from docs/security.md on a fresh database"
run nss-racf --file "$here/../docs/examples/nss-setup.racf"
ls -l "$work"

say "SETROPTS LIST"
run nss-racf "SETROPTS LIST"
say "LISTUSER CLIENT1"
run nss-racf "LISTUSER CLIENT1"
say "RLIST SERVAUTH EZB.NETMGMT.NSSSYS.*.IPSEC.CONTROL AUTHUSER"
run nss-racf "RLIST SERVAUTH EZB.NETMGMT.NSSSYS.*.IPSEC.CONTROL AUTHUSER"
say "RLIST PTKTDATA NSSD (the key is sealed; only its presence shows)"
run nss-racf "RLIST PTKTDATA NSSD"
say "RACDCERT ID(NSSD) LISTRING(*)"
run nss-racf "RACDCERT ID(NSSD) LISTRING(*)"

say "A bad command changes nothing and names the line (exit status 1)"
printf 'ADDUSER NEWUSER\nRDEFINE SERVAUTH EZB.X UACC(READ) COLOUR(BLUE)\n' > "$work/bad.racf"
run nss-racf --file "$work/bad.racf" || echo "exit status $?"
run nss-racf "LISTUSER NEWUSER" || echo "exit status $?"

say "nss-passticket for CLIENT2 at application NSSD, fixed time 1800000000"
# The key on standard input (printf is a shell builtin: no process shows it).
printf '%s\n' E001193519561977 |
    run nss-passticket --userid CLIENT2 --applname NSSD --key-file - --time 1800000000

say "The library: logons, decisions, signatures, tampering"
run python "$here/security_demo.py" "$NSS_SECURITY_DB"

say "Start the NSS server: twistd -n nssd on an ephemeral loopback port"
cat > "$work/nssd.conf" <<CONF
# The seed's statement, with our extensions for a throwaway set-up.
NssConfig
{
  Port 0                 # 0: let the system choose (the demo reads DBG0002I)
  SyslogLevel 15         # minimum, verbose, certificate info, client lifecycle
  KeyRing nssd/nssring
  TlsKeyRing NSSD/TLSRING
  SystemName NSSSYS
  SecurityDatabase "$work/security.db"
  NmiSocket "$work/sock/nss"
}
CONF
cat "$work/nssd.conf"
show twistd --pidfile= --logfile="$work/nssd.log" -n nssd --config "$work/nssd.conf" \
    --interface 127.0.0.1
twistd --pidfile= --logfile="$work/nssd.log" -n nssd --config "$work/nssd.conf" \
    --interface 127.0.0.1 &
nssd_pid=$!
for _ in $(seq 100); do
    grep -q DBG0002I "$work/nssd.log" 2>/dev/null && break
    sleep 0.2
done
port=$(sed -n 's/.*DBG0002I NSS server listening on .* port \([0-9]*\).*/\1/p' "$work/nssd.log")
echo "nssd is listening on 127.0.0.1 port $port"

run nss-racf "RACDCERT CERTAUTH EXPORT(LABEL('NSS CA')) DSN('$work/ca.pem')"
umask 077
printf '%s' 'Cl1ent-One' > "$work/client1.pw"
printf '%s\n' 'E001193519561977' > "$work/client2.key"
printf 'IKE_SA_INIT octets | Nr | prf(SK_pi, IDi)' > "$work/auth.dat"
client1=(nss-client --server "127.0.0.1:$port" --ca-file "$work/ca.pem"
         --client-name CLIENT1 --userid CLIENT1 --password-file "$work/client1.pw")
client2=(nss-client --server "127.0.0.1:$port" --ca-file "$work/ca.pem"
         --client-name CLIENT2 --userid CLIENT2 --passticket-key-file "$work/client2.key")

say "CLIENT1 (password logon) has nssd sign a SHA-256 digest with its RSA key"
run "${client1[@]}" sign --label 'Client1 cert' --hash sha256 --in "$work/auth.dat" \
    --out "$work/auth1.sig" --cert-out "$work/client1.pem"
if command -v openssl >/dev/null; then
    openssl x509 -in "$work/client1.pem" -pubkey -noout > "$work/client1.pub"
    printf 'openssl: '
    openssl dgst -sha256 -verify "$work/client1.pub" -signature "$work/auth1.sig" "$work/auth.dat"
fi

say "CLIENT2 (PassTicket logon) signs as identity fqdn:client2.example with ECDSA"
run "${client2[@]}" sign --identity fqdn:client2.example --hash sha256 --scheme ecdsa \
    --in "$work/auth.dat" --out "$work/auth2.sig" --cert-out "$work/client2.pem"
say "CLIENT1 has nssd verify CLIENT2's signature (chain to the CA, then the signature)"
run "${client1[@]}" verify --cert "$work/client2.pem" --hash sha256 --scheme ecdsa \
    --in "$work/auth.dat" --signature "$work/auth2.sig"

say "Refused: CLIENT1 asks for a signature with CLIENT2's certificate"
run "${client1[@]}" sign --label 'Client2 cert' --hash sha256 --scheme ecdsa \
    --in "$work/auth.dat" --out "$work/refused.sig" || echo "exit status $?"

say "Refused before the logon: nssd's certificate does not name nss.example"
echo "(the client checks the server's subjectAltName itself; the password is never sent)"
run "${client1[@]}" --server-name nss.example cacerts || echo "exit status $?"

say "The CA certificates CLIENT2 may use (for IKE CERTREQ)"
run "${client2[@]}" cacerts | head -3

say "nss-modify nssd display (MODIFY NSSD,DISPLAY)"
run nss-modify nssd --socket "$work/sock/nss" display

# The IKEv2 part needs a network namespace (root), a TUN device (strongSwan's
# userspace ESP, since the kernel may have no ESP) and strongSwan itself.
if [ "$(id -u)" = 0 ] && [ -e /dev/net/tun ] && bash "$here/../.ci/install-strongswan"; then
    say "IKEv2: a strongSwan peer in network namespace nsst-demo-$$, with a CA of its own"
    ike_ns="nsst-demo-$$"
    ip netns add "$ike_ns"
    ip -n "$ike_ns" link set lo up
    ip -n "$ike_ns" addr add 10.1.0.1/24 dev lo
    ip -n "$ike_ns" addr add 10.2.0.1/24 dev lo
    run python "$here/ike_peer.py" "$work" "$work/ca.pem"
    run nss-racf "RACDCERT CERTAUTH ADD('$work/peer-ca.pem') WITHLABEL('Peer CA') TRUST"
    run nss-racf "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Peer CA') RING(NSSRING) USAGE(CERTAUTH))"
    run nss-modify nssd --socket "$work/sock/nss" refresh
fi

say "Start iked (twistd -n iked): two stacks are NSS clients, one is not"
cat > "$work/tcpipa.policy" <<'POLICY'
# Policy Agent subset (docs/policy.md): let NSS traffic through.
IpFilterRule NssTraffic
{
  IpSourceAddr    All4
  IpDestAddr      All4
  IpService
  {
    SourcePortRange 4159
    DestinationPortRange 1024 65535
    Protocol        tcp
    Direction       bidirectional InboundConnect
  }
  IpGenericFilterActionRef permit-nolog
}
IpGenericFilterAction permit-nolog
{
  IpFilterAction    permit
  IpFilterLogging   no
}
POLICY
if [ -n "$ike_ns" ]; then
    cat >> "$work/tcpipa.policy" <<'POLICY'
# IKEv2 (docs/policy.md): strongSwan at port 4600, this stack at 5500, in
# the stack's namespace; iked's AUTH is signed by nssd (Client1 cert).
KeyExchangeRule strongswan-peer
{
  LocalSecurityEndpoint
  {
    Identity Fqdn client1.example
    Location 127.0.0.1
    IkePort  5500
  }
  RemoteSecurityEndpoint
  {
    Identity Fqdn strongswan.example
    Location 127.0.0.1
    IkePort  4600
  }
  KeyExchangeActionRef ike-cert
}
KeyExchangeAction ike-cert
{
  HowToAuthPeers DsSignature
  KeyExchangeOffer
  {
    HowToEncrypt         AES_CBC KeyLength 128
    HowToAuthMsgs        HMAC_SHA2_256_128
    PseudoRandomFunction HMAC_SHA2_256
    DHGroup              Group31
  }
}
LocalDynVpnRule host-host
{
  IpSourceAddr       10.2.0.0/24
  IpDestAddr         10.1.0.0/24
  KeyExchangeRuleRef strongswan-peer
  IpDynVpnActionRef  esp-gcm
}
IpDynVpnAction esp-gcm
{
  IpDataOffer
  {
    HowToEncap   Tunnel
    HowToEncrypt AES_GCM_16 KeyLength 128
  }
}
POLICY
fi
cat > "$work/iked.conf" <<CONF
IkeConfig
{
  NetworkSecurityServer 127.0.0.1 Port $port
  NssWaitLimit 5
  NssWaitRetries 3
  SystemName IKESYS
  CaFile "$work/ca.pem"
  NmiSocket "$work/sock/ipsecmgmt"
}
NssStackConfig TCPIPA
{
  ClientName CLIENT1
  ServiceType Cert
  ServiceType RemoteMgmt
  UserID CLIENT1
  AuthBy Password
  PasswordFile "$work/client1.pw"
  PolicyFile "$work/tcpipa.policy"
  ${ike_ns:+Namespace $ike_ns}
}
NssStackConfig TCPIPB
{
  ClientName CLIENT2
  ServiceType Cert
  UserID CLIENT2
  AuthBy PassTicket
  PassTicketKeyFile "$work/client2.key"
}
TcpipStack TCPIP { }
CONF
cat "$work/iked.conf"
show twistd --pidfile= --logfile="$work/iked.log" -n iked --config "$work/iked.conf"
twistd --pidfile= --logfile="$work/iked.log" -n iked --config "$work/iked.conf" &
iked_pid=$!
for _ in $(seq 100); do
    [ "$(grep -c EZD1138I "$work/iked.log" 2>/dev/null)" = 2 ] && break
    sleep 0.2
done

say "nss-ipsec -w display (ipsec -w): iked's stacks as NSS clients"
run nss-ipsec -w display --socket "$work/sock/ipsecmgmt"

say "nss-ipsec -x display (ipsec -x): nssd's clients, for an operator permitted by SAF"
me=$(id -un | tr '[:lower:]' '[:upper:]')
cat > "$work/operator.racf" <<RACF
ADDUSER $me
PERMIT EZB.NETMGMT.NSSSYS.NSSSYS.NSS.DISPLAY CLASS(SERVAUTH) ID($me)
PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.DISPLAY CLASS(SERVAUTH) ID($me)
PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.CONTROL CLASS(SERVAUTH) ID($me)
SETROPTS RACLIST(SERVAUTH) REFRESH
RACF
run nss-racf --file "$work/operator.racf"
run nss-modify nssd --socket "$work/sock/nss" refresh
run nss-ipsec -x display --socket "$work/sock/nss"

say "nss-ipsec -z CLIENT1 -f ...: steer iked's stack TCPIPA through nssd"
run nss-ipsec -z CLIENT1 -f display --socket "$work/sock/nss" | sed -n '1,3p;/^FilterName/p;/entries selected/p'
run nss-ipsec -z CLIENT1 -f default --socket "$work/sock/nss"
echo "-- locally on iked (-p TCPIPA):"
run nss-ipsec -p TCPIPA -f display --socket "$work/sock/ipsecmgmt" | sed -n '3p;/^FilterName/p;/entries selected/p'
run nss-ipsec -z CLIENT1 -f reload --socket "$work/sock/nss"
run nss-ipsec -z CLIENT1 -k display --socket "$work/sock/nss" | tail -1

if [ -n "$ike_ns" ]; then
    say "IKEv2: start charon in $ike_ns; it initiates, iked answers with nssd's signature"
    export STRONGSWAN_CONF="$work/strongswan/strongswan.conf"
    ip netns exec "$ike_ns" unshare -m --propagation private sh -c \
        "mount -t tmpfs tmpfs /run && exec /usr/lib/ipsec/charon" >/dev/null 2>&1 &
    charon_pid=$!
    for _ in $(seq 100); do
        swanctl --stats >/dev/null 2>&1 && break
        sleep 0.1
    done
    run swanctl --load-all --file "$work/strongswan/swanctl/swanctl.conf" 2>&1 \
        | grep -v '^loaded\|^no \|^building CRED' || true
    run swanctl --initiate --child host-host | tail -1
    say "swanctl --list-sas (strongSwan's view)"
    run swanctl --list-sas
    say "nss-ipsec -z CLIENT1 -k display (iked's view, through nssd)"
    run nss-ipsec -z CLIENT1 -k display --socket "$work/sock/nss"
    say "nss-ipsec -p TCPIPA -y display (locally; ESP SPIs in decimal, as IBM shows them)"
    run nss-ipsec -p TCPIPA -y display --socket "$work/sock/ipsecmgmt" | sed -n '4,10p;/Spi:/p;/HowToEncrypt/p'
    say "nss-ipsec -z CLIENT1 -y refresh -a Y1: iked rekeys the CHILD SA"
    run nss-ipsec -z CLIENT1 -y refresh -a Y1 --socket "$work/sock/nss"
    sleep 1
    run swanctl --list-sas | grep -E 'INSTALLED|in  |out '
    say "nss-ipsec -z CLIENT1 -k deactivate -a K1: iked deletes the IKE SA"
    run nss-ipsec -z CLIENT1 -k deactivate -a K1 --socket "$work/sock/nss"
    sleep 1
    echo "strongSwan's IKE SAs now: $(swanctl --list-sas --raw | grep -c 'list-sa event' || true)"
else
    say "IKEv2 with strongSwan: skipped (needs root, /dev/net/tun and strongSwan)"
fi

# High availability: a primary and a backup nssd on one security database in
# PostgreSQL (issue 11).  It needs PostgreSQL's server programs and psycopg.
# Debian keeps the server programs off PATH, in /usr/lib/postgresql/VERSION/bin.
pg_initdb=$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null |
    sort -V | tail -1 || true)
pg_bin=$(dirname "$(readlink -f "${pg_initdb:-/nonexistent}")")
pg_owner=
if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: its cluster belongs to postgres.
    pg_owner=$(id -un postgres 2>/dev/null || id -un nobody 2>/dev/null || true)
fi
if [ ! -x "$pg_bin/initdb" ]; then
    ha_missing="PostgreSQL's initdb and pg_ctl are not installed"
elif ! python -c 'import psycopg' 2>/dev/null; then
    ha_missing="psycopg 3 is not installed (pip install nsstwisted[postgresql])"
elif [ "$(id -u)" = 0 ] && [ -z "$pg_owner" ]; then
    ha_missing="running as root, and there is no postgres or nobody user to run it"
else
    ha_missing=
fi
if [ -z "$ha_missing" ]; then
    say "High availability: a throwaway PostgreSQL cluster for a shared security database"
    # The data in $WORK; the socket in a short folder of its own, since a
    # unix socket's path is limited to about 100 bytes.
    umask 077   # the job below and CLIENT3's password file hold secrets
    pg_data="$work/pg"
    pg_socket=$(mktemp -d /tmp/nss-pg.XXXXXX)
    echo "PGSOCKET=$pg_socket (the server listens only on a unix socket there)"
    mkdir "$pg_data"
    echo "(PostgreSQL's programs are in $pg_bin)"
    PATH="$pg_bin:$PATH"
    if [ -n "$pg_owner" ]; then
        chown "$pg_owner" "$pg_data" "$pg_socket"
        chmod o+x "$work"   # postgres may pass through to its data, no more
        as_postgres=(runuser -u "$pg_owner" --)
        echo "(as root: the cluster runs as user $pg_owner)"
    fi
    run "${as_postgres[@]}" initdb -D "$pg_data" -U nss -A trust -E UTF8 \
        --locale=C --no-sync --no-instructions > "$work/initdb.log"
    run "${as_postgres[@]}" pg_ctl -D "$pg_data" -l "$work/pg/server.log" -w \
        -o "-c listen_addresses='' -c unix_socket_directories='$pg_socket'" start
    run "${as_postgres[@]}" createdb -h "$pg_socket" -U nss nss

    say "Build the security database in PostgreSQL with nss-racf; the stash stays a file"
    uri="postgresql:///nss?host=$pg_socket&user=nss"
    racf=(nss-racf --database "$uri" --stash "$work/ha.sth")
    echo "(every server on the database needs a copy of the same stash file)"
    run "${racf[@]}" --file "$here/../docs/examples/nss-setup.racf" | tail -1
    cat > "$work/ha.racf" <<'RACF'
/* A new NSS client, CLIENT3: its service profile, but no access yet */
ADDUSER CLIENT3 NAME('iked stack A on host 3') PASSWORD(Cl1ent-Three) DFLTGRP(NSSCLNT)
RDEFINE SERVAUTH EZB.NSS.NSSSYS.CLIENT3.IPSEC.CERT UACC(NONE)
SETROPTS RACLIST(SERVAUTH) REFRESH
RACF
    run "${racf[@]}" --file "$work/ha.racf"

    say "Start a primary and a backup nssd on the one database (same stash, own ports and sockets)"
    for role in primary backup; do
        cat > "$work/$role.conf" <<CONF
NssConfig
{
  Port 0
  SyslogLevel 15
  KeyRing NSSD/NSSRING
  TlsKeyRing NSSD/TLSRING
  SystemName NSSSYS
  SecurityDatabase "$uri"
  StashFile "$work/ha.sth"
  NmiSocket "$work/sock/$role"
}
CONF
        show twistd --pidfile= --logfile="$work/$role.log" -n nssd --config "$work/$role.conf" \
            --interface 127.0.0.1
        twistd --pidfile= --logfile="$work/$role.log" -n nssd --config "$work/$role.conf" \
            --interface 127.0.0.1 &
        ha_pids="$ha_pids $!"
    done
    sed -n '/SecurityDatabase/,/StashFile/p' "$work/backup.conf" |
        sed -e "s|$pg_socket|\$PGSOCKET|" -e "s|$work|\$WORK|"
    ha_port() {
        for _ in $(seq 100); do
            grep -q DBG0002I "$work/$1.log" 2>/dev/null && break
            sleep 0.2
        done
        local port
        port=$(sed -n 's/.*DBG0002I NSS server listening on .* port \([0-9]*\).*/\1/p' \
            "$work/$1.log")
        if [ -z "$port" ]; then
            echo "the $1 nssd did not start:" >&2
            tail -5 "$work/$1.log" >&2
            return 1
        fi
        echo "$port"
    }
    primary_port=$(ha_port primary)
    backup_port=$(ha_port backup)
    echo "primary on 127.0.0.1 port $primary_port, backup on 127.0.0.1 port $backup_port"
    # This database's example job made a PKI of its own.
    run "${racf[@]}" "RACDCERT CERTAUTH EXPORT(LABEL('NSS CA')) DSN('$work/ha-ca.pem')"
    printf '%s' 'Cl1ent-Three' > "$work/client3.pw"
    client3=(nss-client --ca-file "$work/ha-ca.pem" --client-name CLIENT3 --userid CLIENT3
             --password-file "$work/client3.pw")

    say "CLIENT3 asks the backup for the certificate service: refused, no PERMIT yet"
    run "${client3[@]}" --server "127.0.0.1:$backup_port" cacerts || echo "exit status $?"

    say "The operator permits CLIENT3 (nss-racf on the database) and refreshes"
    run "${racf[@]}" "PERMIT EZB.NSS.NSSSYS.CLIENT3.IPSEC.CERT CLASS(SERVAUTH) ID(CLIENT3) ACCESS(READ)"
    run "${racf[@]}" "SETROPTS RACLIST(SERVAUTH) REFRESH"

    say "The backup takes it up without a restart: CLIENT3 is accepted there"
    # nssd takes up a refresh by itself, without a MODIFY (today it polls the
    # database every 5 s): retry until it has, for at most 30 s.
    waited=$SECONDS
    until "${client3[@]}" --server "127.0.0.1:$backup_port" cacerts >/dev/null 2>&1; do
        if [ $((SECONDS - waited)) -ge 30 ]; then
            echo "the backup did not take up the PERMIT within 30 s" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "(the backup accepted CLIENT3 within $((SECONDS - waited + 1)) s of the refresh)"
    run "${client3[@]}" --server "127.0.0.1:$backup_port" cacerts | head -3
    say "... and at the primary"
    run "${client3[@]}" --server "127.0.0.1:$primary_port" cacerts | head -3
else
    say "High availability on PostgreSQL: skipped: $ha_missing"
fi

say "iked's log (EZD messages)"
sed -n 's/^[^[]*\[[^]]*\] //p' "$work/iked.log" | grep '^EZD' | cut -c1-150

say "nssd's log (DBG messages)"
sed -n 's/^[^[]*\[nssd[^]]*\] //p' "$work/nssd.log" | grep '^DBG' | cut -c1-150

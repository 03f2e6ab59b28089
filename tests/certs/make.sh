#!/usr/bin/env bash
# Regenerates the TLS test fixtures in this folder with the openssl CLI. The committed PEMs are
# what the tests use; run this only to replace them (e.g. to add a case).
#
#   ca.pem                         the trusted test CA
#   server.pem / server-key.pem    server cert signed by ca, SAN 127.0.0.1, ::1, localhost
#                                  (key: PKCS#8, EC P-256)
#   server-rsa.pem / server-rsa-key.pem   the same names, RSA 2048 with a PKCS#1 key
#   server-ec.pem / server-ec-key.pem     the same names, EC P-256 with a SEC1 key
#   client.pem / client-key.pem    client cert signed by ca (CN natrix-test-client)
#   untrusted-ca.pem, untrusted-client.pem / untrusted-client-key.pem   a second CA that no
#                                  server trusts, and a client cert it signed
set -euo pipefail
cd "$(dirname "$0")"

DAYS=36500 # about 100 years: fixtures that never expire
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# make_ca NAME CN
make_ca() {
  openssl req -x509 -new -nodes $EC -keyout "$1-key.pem" -out "$1.pem" -days $DAYS \
    -subj "/O=natrix tests/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# sign CA NAME KEYFILE CN EXTFILE: a cert for an existing key
sign() {
  openssl req -new -key "$3" -out "$tmp/$2.csr" -subj "/O=natrix tests/CN=$4"
  openssl x509 -req -in "$tmp/$2.csr" -CA "$1.pem" -CAkey "$1-key.pem" -CAcreateserial \
    -CAserial "$tmp/$1.srl" -out "$2.pem" -days $DAYS -extfile "$5" 2>/dev/null
}

cat >"$tmp/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
EXT
cat >"$tmp/client.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
subjectAltName=DNS:natrix-test-client
EXT

make_ca ca "natrix test CA"
make_ca untrusted-ca "natrix untrusted test CA"

# PKCS#8 EC key (openssl's default output format).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server-key.pem
sign ca server server-key.pem localhost "$tmp/server.ext"
# PKCS#1 RSA key ("BEGIN RSA PRIVATE KEY").
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.pem" 2>/dev/null
openssl pkey -in "$tmp/rsa.pem" -traditional -out server-rsa-key.pem
sign ca server-rsa server-rsa-key.pem localhost "$tmp/server.ext"
# SEC1 EC key ("BEGIN EC PRIVATE KEY").
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ec.pem"
openssl ec -in "$tmp/ec.pem" -out server-ec-key.pem 2>/dev/null
sign ca server-ec server-ec-key.pem localhost "$tmp/server.ext"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out client-key.pem
sign ca client client-key.pem natrix-test-client "$tmp/client.ext"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out untrusted-client-key.pem
sign untrusted-ca untrusted-client untrusted-client-key.pem natrix-test-client "$tmp/client.ext"

# Every run makes new CAs, so their keys are not kept.
rm -f ca-key.pem untrusted-ca-key.pem
chmod 644 ./*.pem

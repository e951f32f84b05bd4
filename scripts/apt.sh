# Debian packages the scripts need, pinned by the caller:
#
#   source scripts/apt.sh
#   command -v xmllint >/dev/null || apt_install "libxml2-utils=$VERSION"
#
# Installs quietly without recommends (refreshing the package lists once if
# the first try fails); without root or apt it says what to install and
# returns 1.
apt_install() { # package[=version]…
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "$(basename "$0"): please install $* (apt-get install $*)" >&2
        return 1
    fi
    echo "installing $*…" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

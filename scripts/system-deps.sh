#!/usr/bin/env bash
# Install what the project needs from Debian, only when it is missing.
#   browser: chromium (Playwright drives Debian's build; it never downloads its own)
#   pdf:     pango and friends for WeasyPrint; poppler-utils (pdftotext, pdfinfo) for the
#            tests that read reports back
set -euo pipefail
need=()
for what in "$@"; do
  case "$what" in
    browser) [ -x /usr/bin/chromium ] || need+=(chromium) ;;
    pdf)
      ldconfig -p | grep -q libpangoft2-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
      command -v pdftotext >/dev/null || need+=(poppler-utils)
      ;;
    *) echo "system-deps: unknown group '$what'" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "Installing from Debian: ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

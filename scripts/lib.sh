# Shared by scripts/test.sh and scripts/demo.sh: install what is missing, configure a build folder.

# Debian packages the project builds with.
# libclang-rt-14-dev holds clang's sanitizer runtimes (only "recommended" by clang, and recommends are skipped).
# tinyproxy: the real proxy the proxy integration tests start on loopback (they fail without it).
REQUIRED_PACKAGES=(g++ clang libclang-rt-14-dev meson ninja-build pkg-config doctest-dev libcpp-httplib-dev picojson-dev
  libssl-dev libsqlite3-dev cmake make valgrind clang-format clang-tidy tinyproxy)

# Installs the packages that are missing (apt-get update once, only when something is missing).
ensure_packages() {
  local missing=() pkg
  for pkg in "${REQUIRED_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# configure_build DIR COMPILER [meson options...]: sets up DIR, or reconfigures it when it exists and was set up
# with the same compiler (meson cannot switch compilers in place, so a folder of another compiler is recreated).
configure_build() {
  local dir=$1 compiler=$2; shift 2
  if [ -f "$dir/build.ninja" ] && [ "$(cat "$dir/.compiler" 2>/dev/null)" = "$compiler" ]; then
    # meson 1.0's --reconfigure reports compiler options such as cpp_args but does not apply them: configure does.
    meson setup --reconfigure "$dir" "$@" >/dev/null && { [ $# -eq 0 ] || meson configure "$dir" "$@"; }
  else
    rm -rf "$dir"
    CXX=$compiler meson setup "$dir" "$@" >/dev/null && echo "$compiler" >"$dir/.compiler"
  fi
}

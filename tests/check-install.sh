#!/bin/sh
# tests/check-install.sh BUILD_DIR SOURCE_DIR — installs mmsim into a scratch
# root, builds the driver example against it with pkg-config the way a user's
# project would (shared and static), runs both, and runs the installed
# command from its prefix.
set -eu
build=$1
src=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild >/dev/null
pc=$(find "$root" -name mmsim.pc | head -n 1)
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
libdir=$(dirname "$(find "$root" -name 'libmmsim.so' | head -n 1)")
example="$src/examples/driver-test"
cmocka=$(PKG_CONFIG_SYSROOT_DIR= PKG_CONFIG_PATH= pkg-config --libs cmocka)
# shellcheck disable=SC2046
cc -std=c11 $(pkg-config --cflags mmsim) "$example/test_driver.c" "$example/driver.c" \
    $(pkg-config --libs mmsim) $cmocka -Wl,-rpath,"$libdir" -o "$root/test_shared"
"$root/test_shared" >/dev/null
# shellcheck disable=SC2046
cc -std=c11 $(pkg-config --cflags mmsim) "$example/test_driver.c" "$example/driver.c" \
    -L"$libdir" -Wl,-Bstatic -lmmsim -Wl,-Bdynamic $cmocka -o "$root/test_static"
"$root/test_static" >/dev/null
mmsim=$(find "$root" -type f -name mmsim -perm -u+x | head -n 1)
"$mmsim" lab list >/dev/null
# A driver built against the installed WDK headers, with the installed
# linker script, run by the installed command (hosts with a host view).
ld=$(find "$root" -name mmsim-driver.ld | head -n 1)
drivers="$src/examples/drivers"
# shellcheck disable=SC2046
cc -shared -fPIC $(pkg-config --cflags mmsim-wdk) -I"$drivers/ioctl" \
    "$drivers/ioctl/ioctl.c" -Wl,-T,"$ld" -o "$root/ioctl.so"
if "$mmsim" drive "$root/ioctl.so" "$drivers/ioctl/ioctl.drive" >"$root/drive.out" 2>&1; then
    grep -q 'METHOD_NEITHER: 8 bytes in' "$root/drive.out"
elif grep -q 'cannot create a hosted machine' "$root/drive.out"; then
    echo "no host view here: the driver built, mmsim drive is not run"
else
    cat "$root/drive.out"
    exit 1
fi
echo "installed: shared and static consumers pass; the command runs from its prefix; a driver builds with pkg-config mmsim-wdk and runs"

#!/bin/sh
# Builds llama.cpp's own HTTP server (llama-server) from the llama.cpp sources
# that ship inside the installed llama-cpp-python's source distribution, so the
# remote-engine tests run against the same llama.cpp the local engine uses.
#
#   build_llama_server.sh PYTHON OUT_DIR [extra CMake arguments...]
#
# The binary lands in OUT_DIR/bin/llama-server. Nothing is rebuilt when that
# binary exists and was built for the installed llama-cpp-python version.
# Needs: pip (with access to the package index), cmake, a C++17 compiler.
set -eu

PYTHON=$1
OUT=$2
shift 2

VERSION=$("$PYTHON" -c "import importlib.metadata as m; print(m.version('llama_cpp_python'))")
BIN="$OUT/bin/llama-server"
STAMP="$OUT/bin/version"

if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ]; then
	echo "llama-server for llama-cpp-python $VERSION already built: $BIN"
	exit 0
fi

JOBS=${LLAMA_SERVER_JOBS:-2}
mkdir -p "$OUT/sdist" "$OUT/bin"
SDIST="$OUT/sdist/llama_cpp_python-$VERSION.tar.gz"
if [ ! -f "$SDIST" ]; then
	"$PYTHON" -m pip download --no-binary :all: --no-deps \
		--dest "$OUT/sdist" "llama-cpp-python==$VERSION"
fi
SRC="$OUT/src"
rm -rf "$SRC"
mkdir -p "$SRC"
tar -xzf "$SDIST" -C "$SRC" --strip-components=1
LLAMA_CPP="$SRC/vendor/llama.cpp"

# Only the server: no tests, examples or web UI (nothing is downloaded at build
# time), no HTTPS, one static binary. (LLAMA_CURL is gone from this llama.cpp:
# LLAMA_OPENSSL=OFF is what keeps the network code plain HTTP.)
cmake -S "$LLAMA_CPP" -B "$OUT/cmake" \
	-DCMAKE_BUILD_TYPE=Release \
	-DBUILD_SHARED_LIBS=OFF \
	-DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TOOLS=ON \
	-DLLAMA_BUILD_SERVER=ON \
	-DLLAMA_BUILD_APP=OFF \
	-DLLAMA_BUILD_UI=OFF \
	-DLLAMA_USE_PREBUILT_UI=OFF \
	-DLLAMA_OPENSSL=OFF \
	"$@"
cmake --build "$OUT/cmake" --target llama-server -j "$JOBS"
cp "$OUT/cmake/bin/llama-server" "$BIN"
echo "$VERSION" > "$STAMP"
rm -rf "$SRC" "$OUT/cmake"  # about 300 MB; the sdist stays for a rebuild with other flags
echo "built $BIN (llama-cpp-python $VERSION)"

# Build Fimble's Windows installer. Run from the repository root in PowerShell:
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1 [-WithStarter]
# Needs Python 3.10+, Visual Studio Build Tools (C++), CMake and Inno Setup 6
# (iscc.exe on PATH). For an NVIDIA build set $env:CMAKE_ARGS="-DGGML_CUDA=on" first.
param([switch]$WithStarter)
$ErrorActionPreference = "Stop"
if (-not (Test-Path .venv)) { python -m venv .venv }
.\.venv\Scripts\python -m pip install --no-cache-dir "llama-cpp-python>=0.3.36"
.\.venv\Scripts\python -m pip install -e ".[starter,package]"
$buildArgs = @("packaging\build.py")
if ($WithStarter) { $buildArgs += "--with-starter" }
.\.venv\Scripts\python @buildArgs
.\dist\Fimble\fimble.exe --self-test
$env:FIMBLE_VERSION = (.\.venv\Scripts\python -c "import app; print(app.__version__)")
iscc packaging\windows\fimble.iss

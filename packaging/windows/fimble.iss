; Inno Setup script for Fimble on Windows.
; Build the bundle first (`python packaging\build.py` in the venv), then:
;   iscc packaging\windows\fimble.iss
; The installer lands in dist\Fimble-<version>-setup.exe.

#define AppName "Fimble"
#define AppVersion GetEnv("FIMBLE_VERSION")
#if AppVersion == ""
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{7C1E2A4B-5D93-4F0E-9B67-F1B2E3C4D5A6}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=The Fimble authors
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
OutputDir=..\..\dist
OutputBaseFilename=Fimble-{#AppVersion}-setup
SetupIconFile=..\..\resources\icons\fimble.ico
UninstallDisplayIcon={app}\fimble.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
LicenseFile=..\..\LICENSE

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\Fimble\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\fimble.exe"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\fimble.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\fimble.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

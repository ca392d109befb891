// Version macros, written in from the VERSION file by scripts/amalgamate.py.
#pragma once

/// Major version of this header.
#define HEYGEN_VT_VERSION_MAJOR MAJOR_FROM_FILE
/// Minor version of this header.
#define HEYGEN_VT_VERSION_MINOR MINOR_FROM_FILE
/// Patch version of this header.
#define HEYGEN_VT_VERSION_PATCH PATCH_FROM_FILE
/// The version as a string.
#define HEYGEN_VT_VERSION "VERSION_FROM_FILE"

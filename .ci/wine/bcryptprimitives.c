/* Wine 8 lacks bcryptprimitives.dll, whose ProcessPrng Rust's std for
 * Windows (1.78 and later) imports: this stand-in forwards to RtlGenRandom.
 * Built and installed into the Wine prefix by .ci/windows-test. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n; len -= n;
  }
  return TRUE;
}

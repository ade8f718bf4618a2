/* wdk/dbgformat.h — string formatting with the Windows kernel's printf rules
 * (DbgPrint, DbgPrintEx, vDbgPrintEx, RtlStringCbPrintfA), for driver code
 * built on Linux: Windows x64 argument sizes, wide and counted strings. */
#ifndef MMWDK_DBGFORMAT_H
#define MMWDK_DBGFORMAT_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* DbgPrint sends at most 512 bytes of one call's output to the debugger;
 * longer output is truncated. A caller formats into a buffer of this size. */
#define MMWDK_DBGPRINT_MAX 512

/* Formats like the Windows kernel's DbgPrint into out (size bytes, always
 * NUL-terminated when size > 0); returns the length the full output would
 * have (like vsnprintf), or -1 for a format it cannot parse (a specification
 * cut off by the end of the string, a width or precision beyond INT_MAX, a
 * total beyond INT_MAX), with what came before it left in out. out may be
 * NULL when size is 0.
 *
 * Sizes are Windows x64 ones, not the host's: %ld and %lx read a 32-bit int,
 * %I64x, %llx and %zu 64 bits. So these functions carry no printf format
 * attribute: the compiler would check them against the host's rules. */
int mmwdk_vformat(char *out, size_t size, const char *format, va_list ap);
int mmwdk_format(char *out, size_t size, const char *format, ...);

#ifdef __cplusplus
}
#endif

#endif

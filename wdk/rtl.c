/* wdk/rtl.c — the run-time library routines drivers call: counted
 * strings, RtlCompareMemory, and DbgPrint/DbgPrintEx (Windows' format
 * rules, at most 511 characters a call, to the output mmwdk_set_debug_output
 * chose). */
#include "internal.h"

#include <stdarg.h>

#include "dbgformat.h"

static USHORT wide_length(PCWSTR s)
{
    size_t n = 0;
    while (s[n])
        n++;
    /* Windows caps Length at 0xFFFC, so MaximumLength (one more WCHAR) fits. */
    return (USHORT)(n * sizeof(WCHAR) > 0xFFFC ? 0xFFFC : n * sizeof(WCHAR));
}

void RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    DestinationString->Buffer = (PWCH)(uintptr_t)SourceString;
    DestinationString->Length = SourceString ? wide_length(SourceString) : 0;
    DestinationString->MaximumLength = SourceString ? (USHORT)(DestinationString->Length + sizeof(WCHAR)) : 0;
}

void RtlInitAnsiString(PANSI_STRING DestinationString, PCSTR SourceString)
{
    size_t n = SourceString ? strlen(SourceString) : 0;
    if (n > MAXUSHORT - 1)
        n = MAXUSHORT - 1;
    DestinationString->Buffer = (PCHAR)(uintptr_t)SourceString;
    DestinationString->Length = (USHORT)n;
    DestinationString->MaximumLength = SourceString ? (USHORT)(n + 1) : 0;
}

void RtlInitString(PSTRING DestinationString, PCSTR SourceString) { RtlInitAnsiString(DestinationString, SourceString); }

void RtlCopyUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString)
{
    if (!SourceString) {
        DestinationString->Length = 0;
        return;
    }
    USHORT n = SourceString->Length < DestinationString->MaximumLength ? SourceString->Length
                                                                        : DestinationString->MaximumLength;
    memmove(DestinationString->Buffer, SourceString->Buffer, n);
    DestinationString->Length = n;
    if (n + sizeof(WCHAR) <= DestinationString->MaximumLength)
        DestinationString->Buffer[n / sizeof(WCHAR)] = 0;
}

static WCHAR upcase(WCHAR c) { return c >= 'a' && c <= 'z' ? (WCHAR)(c - 'a' + 'A') : c; }

LONG RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    USHORT n1 = String1->Length / sizeof(WCHAR), n2 = String2->Length / sizeof(WCHAR);
    for (USHORT i = 0; i < n1 && i < n2; i++) {
        WCHAR a = String1->Buffer[i], b = String2->Buffer[i];
        if (CaseInSensitive) {
            a = upcase(a);
            b = upcase(b);
        }
        if (a != b)
            return (LONG)a - (LONG)b;
    }
    return (LONG)n1 - (LONG)n2;
}

BOOLEAN RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    return String1->Length == String2->Length && RtlCompareUnicodeString(String1, String2, CaseInSensitive) == 0;
}

SIZE_T RtlCompareMemory(const void *Source1, const void *Source2, SIZE_T Length)
{
    const UCHAR *a = (const UCHAR *)Source1, *b = (const UCHAR *)Source2;
    SIZE_T n = 0;
    while (n < Length && a[n] == b[n])
        n++;
    return n;
}

/* ---- DbgPrint ---- */

static ULONG print(const char *format, va_list ap)
{
    char text[MMWDK_DBGPRINT_MAX];
    if (mmwdk_vformat(text, sizeof text, format, ap) < 0)
        return (ULONG)STATUS_INVALID_PARAMETER;
    mmwdk_debug_line(text);
    return STATUS_SUCCESS;
}

ULONG DbgPrint(PCSTR Format, ...)
{
    va_list ap;
    va_start(ap, Format);
    ULONG st = print(Format, ap);
    va_end(ap);
    return st;
}

/* Every level up to DPFLTR_INFO_LEVEL is shown: the default debugger
 * filter of a test run is everything. */
ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...)
{
    (void)ComponentId;
    (void)Level;
    va_list ap;
    va_start(ap, Format);
    ULONG st = print(Format, ap);
    va_end(ap);
    return st;
}

void DbgBreakPoint(void) { mmwdk_raise(STATUS_BREAKPOINT, __builtin_return_address(0), 0, 0); }

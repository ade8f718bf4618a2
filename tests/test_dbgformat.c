/* tests/test_dbgformat.c — DbgPrint formatting (wdk/dbgformat.c): Windows x64
 * argument sizes, %p, wide and counted strings, the choices for %n, unknown
 * conversions and floating point, and truncation with a vsnprintf result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>

#include <cmocka.h>

#include "dbgformat.h"

/* Layouts of ANSI_STRING and UNICODE_STRING as driver code declares them. */
struct ansi_string {
    uint16_t Length;
    uint16_t MaximumLength;
    char *Buffer;
};

struct unicode_string {
    uint16_t Length; /* bytes */
    uint16_t MaximumLength;
    uint16_t *Buffer;
};

#define POINTER ((void *)(uintptr_t)0xFFFFF80012345678ULL)

/* The whole output, and a result that is its length. */
#define assert_format(expected, ...)                                      \
    do {                                                                  \
        char out_[256];                                                   \
        int n_ = mmwdk_format(out_, sizeof out_, __VA_ARGS__);            \
        assert_string_equal(out_, expected);                              \
        assert_int_equal(n_, (int)strlen(expected));                      \
    } while (0)

/* A format that cannot be parsed: -1, with what came before it. */
#define assert_unparsable(before, ...)                                    \
    do {                                                                  \
        char out_[256];                                                   \
        assert_int_equal(mmwdk_format(out_, sizeof out_, __VA_ARGS__), -1); \
        assert_string_equal(out_, before);                                \
    } while (0)

static void test_plain_text_and_percent(void **state)
{
    (void)state;
    assert_format("", "");
    assert_format("plain text", "plain text");
    assert_format("100%", "100%%");
    assert_format("%|%", "%5%|%-3%"); /* flags and width do not apply to %% */
}

static void test_signed_decimal(void **state)
{
    (void)state;
    assert_format("-42", "%d", -42);
    assert_format("42 -7", "%i %i", 42, -7);
    assert_format("+42| 42|+42", "%+d|% d|%+ d", 42, 42, 42);
    assert_format("   42|42   |", "%5d|%-5d|", 42, 42);
    assert_format("-0042|+0042|42   |", "%05d|%+05d|%-05d|", -42, 42, 42);
    assert_format("0042|   -0042", "%.4d|%8.4d", 42, -42);
    assert_format("    0042", "%08.4d", 42); /* a precision turns the 0 flag off */
    assert_format("[]|   ", "[%.0d]|%3.0d", 0, 0);
    assert_format("-2147483648", "%d", INT_MIN);
}

static void test_unsigned_octal_hex(void **state)
{
    (void)state;
    assert_format("4294967295", "%u", 4294967295u);
    assert_format("5", "%+u", 5u);
    assert_format("ff FF deadbeef", "%x %X %x", 255u, 255u, 0xdeadbeefu);
    assert_format("0xff 0XFF 0", "%#x %#X %#x", 255u, 255u, 0u);
    assert_format("0x0000ff", "%#08x", 255u);
    assert_format("10 010 0 0", "%o %#o %#o %#.0o", 8u, 8u, 0u, 0u);
    assert_format("00010", "%#.5o", 8u);
    assert_format("[]", "[%.0x]", 0u);
}

static void test_star_width_and_precision(void **state)
{
    (void)state;
    assert_format("   42", "%*d", 5, 42);
    assert_format("42   |", "%*d|", -5, 42); /* negative width: left-justified */
    assert_format("0007", "%.*d", 4, 7);
    assert_format("7", "%.*d", -1, 7); /* negative precision: none */
    assert_format("  he|he  |", "%*.*s|%-*.*s|", 4, 2, "hello", 4, 2, "hello");
}

static void test_long_is_32_bits(void **state)
{
    (void)state;
    assert_format("-1", "%ld", -1);
    assert_format("ffffffff", "%lx", -1);
    assert_format("4294967295", "%lu", -1);
    assert_format("-2147483648", "%ld", INT_MIN);
    /* Each reads 32 bits, so the next argument is the 7. */
    assert_format("FFFFFFFF 7", "%lX %d", -1, 7);
    assert_format("ffffffff 7", "%I32x %d", -1, 7);
    assert_format("-1 7", "%I32d %d", -1, 7);
}

static void test_64_bit_prefixes(void **state)
{
    (void)state;
    assert_format("123456789abcdef0", "%I64x", 0x123456789abcdef0ULL);
    assert_format("123456789ABCDEF0 7", "%I64X %d", 0x123456789abcdef0ULL, 7);
    assert_format("123456789abcdef0 7", "%llx %d", 0x123456789abcdef0ULL, 7);
    assert_format("123456789abcdef0 7", "%Lx %d", 0x123456789abcdef0ULL, 7);
    assert_format("-9223372036854775808", "%lld", LLONG_MIN);
    assert_format("-9223372036854775808", "%I64d", LLONG_MIN);
    assert_format("18446744073709551615", "%I64u", ULLONG_MAX);
    assert_format("18446744073709551615", "%zu", (size_t)SIZE_MAX);
    assert_format("fffff80012345678 7", "%Ix %d", (size_t)0xfffff80012345678ULL, 7);
    assert_format("-5", "%Id", (ptrdiff_t)-5);
    assert_format("-1 -1", "%jd %td", (intmax_t)-1, (ptrdiff_t)-1);
}

static void test_short_and_byte_prefixes(void **state)
{
    (void)state;
    assert_format("9029", "%hd", 0x12345); /* 0x2345 */
    assert_format("-1", "%hd", 0xffff);
    assert_format("ffff", "%hx", -1);
    assert_format("1", "%hu", 65537);
    assert_format("ff", "%hhx", 0x1ff);
    assert_format("-1", "%hhd", 0xff);
}

static void test_pointer(void **state)
{
    (void)state;
    assert_format("0000000000000000", "%p", (void *)NULL);
    assert_format("FFFFF80012345678", "%p", POINTER);
    assert_format("    FFFFF80012345678|", "%20p|", POINTER);
    assert_format("FFFFF80012345678    |", "%-20p|", POINTER);
    assert_format("0XFFFFF80012345678", "%#p", POINTER);
    assert_format("0000000000000000", "%#p", (void *)NULL);
    assert_format("FFFFF80012345678", "%.4p", POINTER);   /* always 16 digits */
    assert_format("    0000000000001000", "%020p", (void *)0x1000); /* as %020.16X */
    assert_format("0000000000001000 7", "%p %d", (void *)0x1000, 7);
}

static void test_characters(void **state)
{
    (void)state;
    assert_format("A", "%c", 'A');
    assert_format("  A|A  |", "%3c|%-3c|", 'A', 'A');
    assert_format("00A", "%03c", 'A'); /* the CRT pads any conversion with zeros */
    assert_format("A", "%.0c", 'A');   /* precision ignored */
    assert_format("A", "%C", 0x41);
    assert_format("?", "%C", 0x263A); /* beyond ASCII */
    assert_format("x y z", "%wc %lc %C", 'x', 'y', 'z');
    assert_format("z z", "%hc %hC", 'z', 'z');
}

static void test_ansi_strings(void **state)
{
    (void)state;
    assert_format("hello", "%s", "hello");
    assert_format("[]", "[%s]", "");
    assert_format("   hi|hi   |", "%5s|%-5s|", "hi", "hi");
    assert_format("he|    h", "%.2s|%5.1s", "hello", "hello");
    assert_format("000hi", "%05s", "hi");
    assert_format("abc abc", "%hs %hS", "abc", "abc");
    assert_format("(null)|(nu|  (null)", "%s|%.3s|%8s", (char *)NULL, (char *)NULL, (char *)NULL);
    const char raw[3] = { 'a', 'b', 'c' }; /* no terminator: the precision bounds the read */
    assert_format("abc|", "%.3s|", raw);
}

static void test_wide_strings(void **state)
{
    (void)state;
    assert_format("wide wide wide", "%ws %ls %S", u"wide", u"wide", u"wide");
    assert_format("caf?", "%ws", u"caf\u00e9");
    assert_format("??", "%ws", u"\U0001F600"); /* a surrogate pair: two units */
    assert_format("    wide|wide    |", "%8ws|%-8ws|", u"wide", u"wide");
    assert_format("   caf?|", "%7ws|", u"caf\u00e9");
    assert_format("wi|    wi|", "%.2ws|%6.2S|", u"wide", u"wide");
    assert_format("  caf|", "%5.3ls|", u"caf\u00e9");
    assert_format("00wide", "%06ws", u"wide");
    assert_format("(null)|(nu", "%ws|%.3S", (uint16_t *)NULL, (uint16_t *)NULL);
    const uint16_t raw[2] = { 'o', 'k' };
    assert_format("ok", "%.2ws", raw);
}

static void test_counted_strings(void **state)
{
    (void)state;
    char text[] = "hello world";
    struct ansi_string a = { 5, sizeof text, text };
    assert_format("hello hello", "%Z %hZ", &a, &a);
    assert_format("hello", "%.2Z", &a); /* precision ignored */

    uint16_t units[3] = { 'A', 'B', 'C' }; /* not NUL-terminated */
    struct unicode_string u = { sizeof units, sizeof units, units };
    assert_format("ABC ABC 7", "%wZ %lZ %d", &u, &u, 7);
    assert_format("   ABC|ABC   |00ABC", "%6wZ|%-6wZ|%05wZ", &u, &u, &u);
    assert_format("ABC", "%.1wZ", &u);
    struct unicode_string odd = { 5, 6, units }; /* Length / 2 units */
    assert_format("AB", "%wZ", &odd);
    uint16_t naive[4] = { 'n', 0x00EF, 'v', 'e' };
    struct unicode_string accented = { sizeof naive, sizeof naive, naive };
    assert_format("n?ve", "%wZ", &accented);
    struct unicode_string empty = { 0, 0, units };
    assert_format("[]", "[%wZ]", &empty);

    struct unicode_string no_buffer = { 4, 4, NULL };
    struct ansi_string no_ansi_buffer = { 4, 4, NULL };
    assert_format("(null) (null)", "%wZ %Z", &no_buffer, &no_ansi_buffer);
    assert_format("(null) (null)", "%wZ %Z", (void *)NULL, (void *)NULL);
}

static void test_percent_n_writes_nothing(void **state)
{
    (void)state;
    int n = 12345;
    assert_format("ab7", "a%nb%d", &n, 7);
    assert_format("xy", "x%lny", &n);
    assert_int_equal(n, 12345);
}

static void test_unknown_conversion_copied(void **state)
{
    (void)state;
    assert_format("%y", "%y");
    assert_format("a%-5yb", "a%-5yb");
    assert_format("%*y9", "%*y%d", 3, 9); /* the '*' argument is consumed */
    assert_format("%lk|7", "%lk|%d", 7);
    assert_format("%I6", "%I6");
}

static void test_unparsable_format(void **state)
{
    (void)state;
    assert_unparsable("abc", "abc%");
    assert_unparsable("", "%5");
    assert_unparsable("x", "x%-");
    assert_unparsable("", "%l");
    assert_unparsable("", "%I64");
    assert_unparsable("", "%.");
    assert_unparsable("", "%.*", 3);
    assert_unparsable("", "%2147483648d", 1);
    assert_unparsable("", "%.99999999999d", 1);
    assert_unparsable("", "%*d", INT_MIN, 1);
    char out[4] = "old";
    assert_int_equal(mmwdk_format(out, sizeof out, NULL), -1);
    assert_int_equal(mmwdk_format(NULL, sizeof out, "abc"), -1);
}

static void test_truncation(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(mmwdk_format(out, sizeof out, "%s", "hello world"), 11);
    assert_string_equal(out, "hello w");
    assert_int_equal(mmwdk_format(out, 6, "hello"), 5);
    assert_string_equal(out, "hello");
    assert_int_equal(mmwdk_format(out, 5, "hello"), 5);
    assert_string_equal(out, "hell");
    assert_int_equal(mmwdk_format(out, 1, "%s", "hello world"), 11);
    assert_string_equal(out, "");
    char untouched = 'X';
    assert_int_equal(mmwdk_format(&untouched, 0, "abc"), 3);
    assert_int_equal(untouched, 'X');
    assert_int_equal(mmwdk_format(NULL, 0, "%d%ws", 12345, u"ab"), 7);

    assert_int_equal(mmwdk_format(out, 5, "%20d", 7), 20);
    assert_string_equal(out, "    ");
    assert_int_equal(mmwdk_format(out, 5, "%-20d", 7), 20);
    assert_string_equal(out, "7   ");
    assert_int_equal(mmwdk_format(out, sizeof out, "%p", POINTER), 16);
    assert_string_equal(out, "FFFFF80");
    assert_int_equal(mmwdk_format(out, 4, "%ws", u"wide"), 4);
    assert_string_equal(out, "wid");
    uint16_t units[3] = { 'A', 'B', 'C' };
    struct unicode_string u = { sizeof units, sizeof units, units };
    assert_int_equal(mmwdk_format(out, 3, "%wZ", &u), 3);
    assert_string_equal(out, "AB");

    /* The largest width is counted, not written; one byte more is too long. */
    assert_int_equal(mmwdk_format(out, sizeof out, "%*d", INT_MAX, 1), INT_MAX);
    assert_string_equal(out, "       ");
    assert_int_equal(mmwdk_format(out, sizeof out, "%*d%d", INT_MAX, 1, 2), -1);
}

static void test_dbgprint_limit(void **state)
{
    (void)state;
    char a[301], b[301], out[MMWDK_DBGPRINT_MAX];
    memset(a, 'a', 300);
    memset(b, 'b', 300);
    a[300] = b[300] = '\0';
    assert_int_equal(mmwdk_format(out, sizeof out, "%s%s", a, b), 600);
    assert_int_equal(strlen(out), MMWDK_DBGPRINT_MAX - 1);
    assert_int_equal(out[299], 'a');
    assert_int_equal(out[300], 'b');
    assert_int_equal(out[MMWDK_DBGPRINT_MAX - 2], 'b');
}

static void test_floating_point(void **state)
{
    (void)state;
    assert_format("3.14", "%.2f", 3.14159);
    assert_format("1.500000", "%f", 1.5);
    assert_format("   1.500|1.5   |", "%8.3f|%-6.1f|", 1.5, 1.5);
    assert_format("+1.5 0001.5", "%+.1f %06.1f", 1.5, 1.5);
    assert_format("1.5e+00 1.5E+00 0.25", "%.1e %.1E %g", 1.5, 1.5, 0.25);
    assert_format("1.", "%#.0f", 1.0);
    assert_format("2.5 7", "%Lg %d", 2.5, 7); /* L reads a double: MSVC's long double */
    assert_format("2.500000 7", "%lf %d", 2.5, 7);
    assert_format("1.5x", "%.1fx", 1.5);
    char out[4];
    assert_int_equal(mmwdk_format(out, sizeof out, "%.3fabc", 1.5), 8);
    assert_string_equal(out, "1.5");
}

static int format_through_va_list(char *out, size_t size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = mmwdk_vformat(out, size, format, ap);
    va_end(ap);
    return n;
}

static void test_a_driver_line(void **state)
{
    (void)state;
    uint16_t name[] = { 'D', 'i', 's', 'k', '0' };
    struct unicode_string device = { sizeof name, sizeof name, name };
    char out[MMWDK_DBGPRINT_MAX];
    int n = format_through_va_list(out, sizeof out,
        "mydrv!%s: Irp %p status %08lx length %I64u device %wZ (%ws)\n", "DispatchRead",
        POINTER, 0xC0000001u, 0x100000000ULL, &device, u"ok");
    assert_string_equal(out, "mydrv!DispatchRead: Irp FFFFF80012345678 status c0000001 "
                             "length 4294967296 device Disk0 (ok)\n");
    assert_int_equal(n, (int)strlen(out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text_and_percent),
        cmocka_unit_test(test_signed_decimal),
        cmocka_unit_test(test_unsigned_octal_hex),
        cmocka_unit_test(test_star_width_and_precision),
        cmocka_unit_test(test_long_is_32_bits),
        cmocka_unit_test(test_64_bit_prefixes),
        cmocka_unit_test(test_short_and_byte_prefixes),
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_characters),
        cmocka_unit_test(test_ansi_strings),
        cmocka_unit_test(test_wide_strings),
        cmocka_unit_test(test_counted_strings),
        cmocka_unit_test(test_percent_n_writes_nothing),
        cmocka_unit_test(test_unknown_conversion_copied),
        cmocka_unit_test(test_unparsable_format),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_dbgprint_limit),
        cmocka_unit_test(test_floating_point),
        cmocka_unit_test(test_a_driver_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* wdk/dbgformat.c — the kernel CRT's printf as DbgPrint and RtlStringCbPrintfA
 * apply it on x64: a specification is parsed into a struct spec, its argument
 * read with Windows sizes, and the result written to a sink that counts what
 * does not fit. Where this departs from or guesses at Windows, it says so. */
#include "dbgformat.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The output buffer; bytes past its end are counted, not written. */
struct sink {
    char *out;
    size_t size;
    size_t len;  /* length of the full output so far */
    bool failed; /* the host's snprintf refused a floating-point field */
};

enum { FLAG_LEFT = 1, FLAG_PLUS = 2, FLAG_SPACE = 4, FLAG_ALT = 8, FLAG_ZERO = 16 };

/* What a size prefix says about c, s and Z: h is ANSI, l and w are wide. */
enum char_width { CHARS_DEFAULT, CHARS_ANSI, CHARS_WIDE };

struct spec {
    unsigned flags;
    int width;
    int precision; /* -1: none given */
    int bits;      /* integer argument size: 8, 16, 32 or 64 */
    enum char_width chars;
    char conv;
};

/* What a field prints after its padding: ANSI bytes or 16-bit units. */
struct text {
    const char *ansi;
    const uint16_t *wide;
    size_t len;
};

/* ANSI_STRING and UNICODE_STRING as wdm.h lays them out (x64: Length at 0,
 * MaximumLength at 2, Buffer at 8). The caller's struct is a type of its own,
 * so its fields are copied out by offset rather than read through this one. */
struct counted_string {
    uint16_t Length; /* in bytes, with no terminator */
    uint16_t MaximumLength;
    void *Buffer;
};
_Static_assert(sizeof(void *) != 8 || offsetof(struct counted_string, Buffer) == 8,
               "ANSI_STRING.Buffer is at offset 8 on x64");

static size_t room(const struct sink *s)
{
    return s->len + 1 < s->size ? s->size - 1 - s->len : 0; /* one byte kept for the NUL */
}

static void put_bytes(struct sink *s, const char *p, size_t n)
{
    size_t fit = n < room(s) ? n : room(s);
    if (fit)
        memcpy(s->out + s->len, p, fit);
    s->len += n;
}

static void put_repeat(struct sink *s, char c, size_t n)
{
    size_t fit = n < room(s) ? n : room(s);
    if (fit)
        memset(s->out + s->len, c, fit);
    s->len += n;
}

/* The kernel turns wide text into ANSI with the system code page. Here a unit
 * up to 0x7F is that ASCII character and any other unit (Latin-1, surrogate
 * halves, everything else) is '?', the code pages' default character, so the
 * output does not depend on a code page or host locale. Windows with code
 * page 1252 would print e.g. U+00E9 as the byte 0xE9 instead. */
static char narrow_from_wide(uint16_t unit)
{
    return unit <= 0x7F ? (char)unit : '?';
}

static void put_text(struct sink *s, const struct text *t)
{
    if (t->ansi) {
        put_bytes(s, t->ansi, t->len);
        return;
    }
    for (size_t i = 0; i < t->len; i++) {
        char c = narrow_from_wide(t->wide[i]);
        put_bytes(s, &c, 1);
    }
}

/* Pads prefix, zeros and text to the field width. The 0 flag pads every
 * conversion with zeros, strings and characters included, as the Microsoft
 * CRT does (C leaves it undefined there); - wins over 0. */
static void emit_field(struct sink *s, const struct spec *sp, const char *prefix, size_t zeros,
                       const struct text *t)
{
    size_t len = strlen(prefix) + zeros + t->len;
    size_t pad = (size_t)sp->width > len ? (size_t)sp->width - len : 0;
    bool left = sp->flags & FLAG_LEFT;
    bool zero_pad = (sp->flags & FLAG_ZERO) && !left;
    if (!left && !zero_pad)
        put_repeat(s, ' ', pad);
    put_bytes(s, prefix, strlen(prefix));
    put_repeat(s, '0', zero_pad ? pad + zeros : zeros);
    put_text(s, t);
    if (left)
        put_repeat(s, ' ', pad);
}

/* ---- Integers ---- */

static int64_t arg_signed(va_list *ap, int bits)
{
    switch (bits) {
    case 8: return (signed char)va_arg(*ap, int);
    case 16: return (short)va_arg(*ap, int);
    case 64: return va_arg(*ap, long long);
    default: return va_arg(*ap, int);
    }
}

static uint64_t arg_unsigned(va_list *ap, int bits)
{
    switch (bits) {
    case 8: return (unsigned char)va_arg(*ap, unsigned int);
    case 16: return (unsigned short)va_arg(*ap, unsigned int);
    case 64: return va_arg(*ap, unsigned long long);
    default: return va_arg(*ap, unsigned int);
    }
}

/* Writes v's digits backwards ending at end; returns the first. */
static char *to_digits(uint64_t v, char conv, char *end)
{
    unsigned radix = conv == 'o' ? 8 : conv == 'x' || conv == 'X' ? 16 : 10;
    const char *digits = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        *--end = digits[v % radix];
        v /= radix;
    } while (v);
    return end;
}

/* sign is '-', '+', ' ' or 0. A precision turns the 0 flag off; # gives
 * octal a leading 0 and nonzero hex a 0x or 0X prefix. */
static void emit_integer(struct sink *s, const struct spec *sp, uint64_t v, char sign)
{
    char buf[24], *end = buf + sizeof buf;
    char *first = to_digits(v, sp->conv, end);
    size_t precision = sp->precision < 0 ? 1 : (size_t)sp->precision;
    if (v == 0 && precision == 0)
        first = end;
    struct text digits = { .ansi = first, .len = (size_t)(end - first) };
    size_t zeros = precision > digits.len ? precision - digits.len : 0;
    bool alt = sp->flags & FLAG_ALT;
    bool leads_with_zero = zeros > 0 || (v == 0 && digits.len > 0);
    if (alt && sp->conv == 'o' && !leads_with_zero)
        zeros = 1;
    char prefix[4] = { 0 }, *p = prefix;
    if (sign)
        *p++ = sign;
    if (alt && v != 0 && (sp->conv == 'x' || sp->conv == 'X')) {
        *p++ = '0';
        *p++ = sp->conv;
    }
    struct spec field = *sp;
    if (sp->precision >= 0)
        field.flags &= ~(unsigned)FLAG_ZERO;
    emit_field(s, &field, prefix, zeros, &digits);
}

static void emit_signed(struct sink *s, const struct spec *sp, int64_t v)
{
    char sign = v < 0 ? '-' : sp->flags & FLAG_PLUS ? '+' : sp->flags & FLAG_SPACE ? ' ' : 0;
    uint64_t magnitude = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    emit_integer(s, sp, magnitude, sign);
}

/* %p is %.16I64X on x64: 16 uppercase digits whatever precision is given;
 * # adds 0X to a non-NULL pointer. */
static void emit_pointer(struct sink *s, const struct spec *sp, const void *p)
{
    struct spec hex = *sp;
    hex.conv = 'X';
    hex.precision = 16;
    emit_integer(s, &hex, (uint64_t)(uintptr_t)p, 0);
}

/* ---- Characters and strings ---- */

/* C and S are wide in the ANSI printf unless h makes them ANSI; c, s and Z
 * are ANSI unless l or w makes them wide. */
static bool is_wide(const struct spec *sp)
{
    if (sp->chars != CHARS_DEFAULT)
        return sp->chars == CHARS_WIDE;
    return sp->conv == 'C' || sp->conv == 'S';
}

/* A wide character arrives as an int holding a 16-bit WCHAR. Precision is
 * ignored. */
static void emit_char(struct sink *s, const struct spec *sp, int c)
{
    char ch = is_wide(sp) ? narrow_from_wide((uint16_t)c) : (char)c;
    struct text t = { .ansi = &ch, .len = 1 };
    emit_field(s, sp, "", 0, &t);
}

/* Lengths stop at the precision, so an unterminated buffer is safe with one. */
static size_t ansi_length(const char *p, size_t max)
{
    size_t n = 0;
    while (n < max && p[n])
        n++;
    return n;
}

static size_t wide_length(const uint16_t *p, size_t max)
{
    size_t n = 0;
    while (n < max && p[n])
        n++;
    return n;
}

/* A NULL string prints "(null)", cut by the precision like any other. */
static void emit_string(struct sink *s, const struct spec *sp, const void *p)
{
    size_t max = sp->precision < 0 ? SIZE_MAX : (size_t)sp->precision;
    const char *ansi = p ? p : "(null)";
    struct text t = { .ansi = ansi };
    if (p && is_wide(sp))
        t = (struct text){ .wide = p, .len = wide_length(p, max) };
    else
        t.len = ansi_length(ansi, max);
    emit_field(s, sp, "", 0, &t);
}

/* %Z prints an ANSI_STRING's Length bytes, %wZ a UNICODE_STRING's Length / 2
 * units; neither needs a terminator. A NULL pointer or Buffer prints
 * "(null)". As in the Microsoft CRT the precision is ignored; width applies. */
static void emit_counted(struct sink *s, const struct spec *sp, const void *p)
{
    uint16_t length = 0;
    void *buffer = NULL;
    if (p) {
        memcpy(&length, (const char *)p + offsetof(struct counted_string, Length), sizeof length);
        memcpy(&buffer, (const char *)p + offsetof(struct counted_string, Buffer), sizeof buffer);
    }
    struct text t = { .ansi = "(null)", .len = 6 };
    if (buffer && is_wide(sp))
        t = (struct text){ .wide = buffer, .len = length / 2 };
    else if (buffer)
        t = (struct text){ .ansi = buffer, .len = length };
    emit_field(s, sp, "", 0, &t);
}

/* ---- Floating point ---- */

/* DbgPrint documents no floating point at all. Rather than print garbage,
 * a, A, e, E, f, F, g and G read a double (long double is double in MSVC, so
 * l and L change nothing) and print it with the host's snprintf, flags,
 * width and precision included. The format is built here from the spec's own
 * characters, hence the non-literal format. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void emit_double(struct sink *s, const struct spec *sp, double v)
{
    char format[16], *f = format;
    *f++ = '%';
    static const char flag_chars[] = "-+ #0"; /* in the order of the FLAG_ bits */
    for (int i = 0; flag_chars[i]; i++)
        if (sp->flags & (1u << i))
            *f++ = flag_chars[i];
    memcpy(f, "*.*", 3);
    f += 3;
    *f++ = sp->conv;
    *f = '\0';
    size_t cap = s->len < s->size ? s->size - s->len : 0;
    int n = snprintf(cap ? s->out + s->len : NULL, cap, format, sp->width, sp->precision, v);
    if (n < 0)
        s->failed = true;
    else
        s->len += (size_t)n;
}
#pragma GCC diagnostic pop

/* ---- Parsing ---- */

static const char *parse_flags(const char *f, unsigned *flags)
{
    for (;; f++) {
        switch (*f) {
        case '-': *flags |= FLAG_LEFT; break;
        case '+': *flags |= FLAG_PLUS; break;
        case ' ': *flags |= FLAG_SPACE; break;
        case '#': *flags |= FLAG_ALT; break;
        case '0': *flags |= FLAG_ZERO; break;
        default: return f;
        }
    }
}

/* A decimal number or '*' (an int argument); NULL past INT_MAX. */
static const char *parse_number(const char *f, va_list *ap, int *v)
{
    if (*f == '*') {
        *v = va_arg(*ap, int);
        return f + 1;
    }
    int n = 0;
    for (; *f >= '0' && *f <= '9'; f++) {
        if (n > (INT_MAX - (*f - '0')) / 10)
            return NULL;
        n = n * 10 + (*f - '0');
    }
    *v = n;
    return f;
}

/* A negative '*' width means '-' and its magnitude; a negative '*'
 * precision means none. */
static const char *parse_width_precision(const char *f, va_list *ap, struct spec *sp)
{
    f = parse_number(f, ap, &sp->width);
    if (!f || sp->width == INT_MIN)
        return NULL;
    if (sp->width < 0) {
        sp->flags |= FLAG_LEFT;
        sp->width = -sp->width;
    }
    sp->precision = -1;
    if (*f == '.') {
        f = parse_number(f + 1, ap, &sp->precision);
        if (f && sp->precision < 0)
            sp->precision = -1;
    }
    return f;
}

/* Windows x64 sizes: none, l and I32 are 32 bits; h 16, hh 8; ll, L, I64,
 * I, z, j and t 64. w only makes characters wide. An I not followed by 32
 * or 64 is the pointer-sized I. */
static const char *parse_size(const char *f, struct spec *sp)
{
    sp->bits = 32;
    sp->chars = CHARS_DEFAULT;
    switch (*f) {
    case 'h':
        sp->chars = CHARS_ANSI;
        sp->bits = f[1] == 'h' ? 8 : 16;
        return f[1] == 'h' ? f + 2 : f + 1;
    case 'l':
        if (f[1] == 'l') {
            sp->bits = 64;
            return f + 2;
        }
        sp->chars = CHARS_WIDE;
        return f + 1;
    case 'w':
        sp->chars = CHARS_WIDE;
        return f + 1;
    case 'I':
        if ((f[1] == '6' && f[2] == '4') || (f[1] == '3' && f[2] == '2')) {
            sp->bits = f[1] == '6' ? 64 : 32;
            return f + 3;
        }
        sp->bits = 64;
        return f + 1;
    case 'L': case 'z': case 'j': case 't':
        sp->bits = 64;
        return f + 1;
    default:
        return f;
    }
}

/* f is just past the '%'; returns just past the conversion character, or
 * NULL when the specification is cut off or a number overflows. */
static const char *parse_spec(const char *f, va_list *ap, struct spec *sp)
{
    *sp = (struct spec){ 0 };
    f = parse_width_precision(parse_flags(f, &sp->flags), ap, sp);
    if (!f)
        return NULL;
    f = parse_size(f, sp);
    sp->conv = *f;
    return sp->conv ? f + 1 : NULL;
}

/* ---- Conversions ---- */

/* %n writes nothing (Microsoft's CRTs do not honour it by default: writing
 * through a format argument is a classic attack); its pointer is consumed so
 * the arguments after it line up. An unknown conversion is copied as
 * written, from '%' to its character, so a mistake shows in the log; the '*'
 * arguments it named stay consumed. */
static void convert(struct sink *s, const struct spec *sp, va_list *ap, const char *start,
                    const char *end)
{
    switch (sp->conv) {
    case 'd': case 'i':
        emit_signed(s, sp, arg_signed(ap, sp->bits));
        break;
    case 'u': case 'o': case 'x': case 'X':
        emit_integer(s, sp, arg_unsigned(ap, sp->bits), 0);
        break;
    case 'p': emit_pointer(s, sp, va_arg(*ap, void *)); break;
    case 'c': case 'C': emit_char(s, sp, va_arg(*ap, int)); break;
    case 's': case 'S': emit_string(s, sp, va_arg(*ap, const void *)); break;
    case 'Z': emit_counted(s, sp, va_arg(*ap, const void *)); break;
    case 'n': (void)va_arg(*ap, void *); break;
    case '%': put_bytes(s, "%", 1); break; /* flags and width ignored */
    case 'a': case 'A': case 'e': case 'E': case 'f': case 'F': case 'g': case 'G':
        emit_double(s, sp, va_arg(*ap, double));
        break;
    default: put_bytes(s, start, (size_t)(end - start)); break;
    }
}

static bool format_all(struct sink *s, const char *f, va_list *ap)
{
    for (const char *pct; (pct = strchr(f, '%')) != NULL;) {
        put_bytes(s, f, (size_t)(pct - f));
        struct spec sp;
        const char *end = parse_spec(pct + 1, ap, &sp);
        if (!end)
            return false;
        convert(s, &sp, ap, pct, end);
        f = end;
    }
    put_bytes(s, f, strlen(f));
    return true;
}

int mmwdk_vformat(char *out, size_t size, const char *format, va_list ap)
{
    if (!format || (!out && size))
        return -1;
    struct sink s = { .out = out, .size = size };
    va_list args;
    va_copy(args, ap);
    bool parsed = format_all(&s, format, &args);
    va_end(args);
    if (size)
        out[s.len < size ? s.len : size - 1] = '\0';
    return parsed && !s.failed && s.len <= INT_MAX ? (int)s.len : -1;
}

int mmwdk_format(char *out, size_t size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = mmwdk_vformat(out, size, format, ap);
    va_end(ap);
    return n;
}

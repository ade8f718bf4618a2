/* tests/test_lineedit.c — the REPL's line editor, driven by key bytes:
 * editing keys change the line and cursor as a terminal user expects,
 * history walks back and forth and keeps the draft, Tab completes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lineedit.h"

static enum lineedit_result type(struct lineedit *e, const char *keys)
{
    enum lineedit_result r = LINEEDIT_MORE;
    for (const char *k = keys; *k && r == LINEEDIT_MORE; k++)
        r = lineedit_feed(e, (unsigned char)*k);
    return r;
}

static void test_editing_keys(void **state)
{
    (void)state;
    struct lineedit e;
    lineedit_init(&e, NULL);
    lineedit_begin(&e);
    assert_int_equal(type(&e, "mdl lok m"), LINEEDIT_MORE);
    assert_int_equal(type(&e, "\033[D\033[D\033[D"), LINEEDIT_MORE); /* Left three times: before "k" */
    type(&e, "c");
    assert_string_equal(e.buf, "mdl lock m");
    type(&e, "\001"); /* Ctrl-A */
    assert_int_equal(e.pos, 0);
    type(&e, "\033[3~"); /* Delete */
    assert_string_equal(e.buf, "dl lock m");
    type(&e, "\005\177\177"); /* Ctrl-E, Backspace twice */
    assert_string_equal(e.buf, "dl lock");
    type(&e, "\027"); /* Ctrl-W */
    assert_string_equal(e.buf, "dl ");
    type(&e, "\025"); /* Ctrl-U */
    assert_string_equal(e.buf, "");
    type(&e, "x\033[H!\033[F?"); /* Home, End */
    assert_string_equal(e.buf, "!x?");
    type(&e, "\001\013"); /* Ctrl-K from the start */
    assert_string_equal(e.buf, "");
    assert_int_equal(type(&e, "\004"), LINEEDIT_EOF); /* Ctrl-D on an empty line */
    type(&e, "abc");
    assert_int_equal(type(&e, "\003"), LINEEDIT_CANCEL);
    assert_string_equal(e.buf, "");
    type(&e, "done");
    assert_int_equal(type(&e, "\r"), LINEEDIT_DONE);
    assert_string_equal(e.buf, "done");
    lineedit_free(&e);
}

static void test_history(void **state)
{
    (void)state;
    struct lineedit e;
    lineedit_init(&e, NULL);
    lineedit_history_add(&e, "first");
    lineedit_history_add(&e, "second");
    lineedit_history_add(&e, "second"); /* repeats are kept once */
    lineedit_history_add(&e, "");
    assert_int_equal(e.history.count, 2);
    lineedit_begin(&e);
    type(&e, "draft");
    type(&e, "\033[A");
    assert_string_equal(e.buf, "second");
    type(&e, "\033[A\033[A"); /* past the oldest: stays */
    assert_string_equal(e.buf, "first");
    type(&e, "\016"); /* Ctrl-N */
    assert_string_equal(e.buf, "second");
    type(&e, "\033[B");
    assert_string_equal(e.buf, "draft");
    type(&e, "\033[B");
    assert_string_equal(e.buf, "draft");
    lineedit_free(&e);
}

static void test_completion(void **state)
{
    (void)state;
    static const char *const words[] = {"mdl", "machine", "!pfn", "!pte", "!process", NULL};
    struct lineedit e;
    lineedit_init(&e, words);
    lineedit_begin(&e);
    type(&e, "mac\t");
    assert_string_equal(e.buf, "machine ");
    lineedit_begin(&e);
    type(&e, "!p\t"); /* ambiguous: extended to what they share */
    assert_string_equal(e.buf, "!p");
    type(&e, "f\t");
    assert_string_equal(e.buf, "!pfn ");
    type(&e, "bu\t"); /* without later_words, only the first word completes */
    assert_string_equal(e.buf, "!pfn bu");
    lineedit_begin(&e);
    type(&e, "zz\t");
    assert_string_equal(e.buf, "zz");
    lineedit_free(&e);
}

static const char *const *second_words(void *ctx, const char *line, size_t word_start)
{
    static const char *const verbs[] = {"lock", "map", "unmap", "unlock", NULL};
    static const char *const names[] = {"buffer", "buf2", NULL};
    (void)ctx;
    return word_start == 4 && strncmp(line, "mdl ", 4) == 0 ? verbs : names;
}

static void test_completion_of_later_words(void **state)
{
    (void)state;
    static const char *const words[] = {"mdl", "machine", NULL};
    struct lineedit e;
    lineedit_init(&e, words);
    e.later_words = second_words;
    lineedit_begin(&e);
    type(&e, "md\tunl\t"); /* the verb, from the command's own list */
    assert_string_equal(e.buf, "mdl unlock ");
    lineedit_begin(&e);
    type(&e, "mdl un\t"); /* unmap and unlock share "un" */
    assert_string_equal(e.buf, "mdl un");
    type(&e, "m\t");
    assert_string_equal(e.buf, "mdl unmap ");
    type(&e, "bu\t"); /* a name: buffer and buf2 share "buf" */
    assert_string_equal(e.buf, "mdl unmap buf");
    type(&e, "f\t");
    assert_string_equal(e.buf, "mdl unmap buffer ");
    lineedit_begin(&e);
    type(&e, "mdl lock bu\x02\x02\t"); /* only what is before the cursor counts: here, nothing */
    assert_string_equal(e.buf, "mdl lock bufbu");
    lineedit_free(&e);
}

static void test_long_lines_and_odd_sequences(void **state)
{
    (void)state;
    struct lineedit e;
    lineedit_init(&e, NULL);
    lineedit_begin(&e);
    for (int i = 0; i < 2 * LINEEDIT_MAX; i++)
        lineedit_feed(&e, 'a');
    assert_int_equal(e.len, LINEEDIT_MAX - 1);
    assert_int_equal(strlen(e.buf), LINEEDIT_MAX - 1);
    lineedit_begin(&e);
    type(&e, "\033[1;5C\033x\033[99999999~ok"); /* Ctrl-Right, Alt-x, an overlong sequence */
    assert_string_equal(e.buf, "ok");
    lineedit_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_editing_keys),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_completion_of_later_words),
        cmocka_unit_test(test_long_lines_and_odd_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

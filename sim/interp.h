/* sim/interp.h — running scenario scripts: the interpreter's state (the
 * machine, named objects, the last status and bug check), argument
 * evaluation shared by the command modules, and the entry points used by
 * `mmsim run`, `mmsim lab` and the REPL. */
#ifndef MMSIM_INTERP_H
#define MMSIM_INTERP_H

#include <stdio.h>

#include "mm/mm.h"
#include "script.h"

/* Exit codes of `mmsim run` / `mmsim lab run` (documented in docs/mmsim.1). */
enum {
    EXIT_SUCCESS_LAB = 0,   /* every expectation held */
    EXIT_EXPECT_FAILED = 1, /* an expectation did not hold */
    EXIT_SCRIPT_ERROR = 2,  /* usage error, unreadable input or output, malformed script, a limit passed */
    EXIT_BUGCHECK = 3,      /* the machine bug-checked and the script did not expect it */
};

enum name_kind { NAME_ADDRESS, NAME_PROCESS, NAME_MDL, NAME_IMAGE, NAME_SECTION };

struct name {
    char name[32];
    enum name_kind kind;
    mm_va va;               /* address, MDL address, view base */
    uint64_t size;
    mm_process *process;    /* NAME_PROCESS, or the owner of a user address / user mapping */
    mm_image *image;
    mm_section *section;
    mm_va user;             /* NAME_MDL: its user mapping, or 0 */
    bool pool;              /* NAME_ADDRESS from pool */
    bool value;             /* made by let: a plain number (a PFN, a count), not a buffer */
    bool freed;             /* its pool block or allocation was freed: no longer drawn */
};

struct name_key; /* the index of names (interp.c) */

struct interp {
    FILE *out;
    const char *file;
    struct mm_config cfg;
    mm_machine *m;
    struct name *names;     /* in the order made; a repeat pass drops the ones it made */
    size_t name_count, name_cap;
    struct name_key *name_index; /* name -> its slot in names */
    struct mm_apc_state apc[8];
    unsigned apc_depth;
    mm_irql saved_irql[8];
    unsigned irql_depth;
    mm_status last_status;
    bool bugchecked;        /* the machine is dead */
    bool bugcheck_expected; /* an expect bugcheck matched it */
    unsigned bugcheck_line;
    struct mm_bugcheck bc;
    unsigned failures;      /* expectations that did not hold */
    bool error;             /* a runtime script error stopped the run */
    const struct statement *st; /* the statement being run */
    struct line_step { uint64_t step; unsigned line; } *lines; /* first step of each line that ran */
    size_t line_count, line_cap;
    bool echo;              /* print each statement before its output (not in an interactive REPL) */
    void (*after)(struct interp *in, const struct statement *st, uint64_t first_event); /* pictures, REPL */
    void *after_ctx;
    bool progress;          /* show progress of long repeats on stderr (a terminal) */
    uint64_t budget;        /* the most steps one script (one REPL entry) may take; 0 = no limit */
    uint64_t steps;         /* statements run in this script */
    uint64_t work;          /* work done beyond the machine's events (interp_charge) */
    uint64_t first_event;   /* the trace count when it began */
    uint64_t boot_events;   /* the trace count once the machine had booted */
    FILE *chunk_out;        /* where its output goes, even while a quiet repeat pass holds it back */
};

#define MAX_REPEAT 100000
#define MAX_REPEAT_DEPTH 4
/* The step budget (docs/scenario-language.md, "Limits"): each statement run
 * is a step, and so is each WORK_PER_STEP units of work it does (an event
 * the machine records, a page a touch reaches, an event a view reads), so
 * that a run's time is bounded whatever its statements do. */
#define DEFAULT_MAX_STEPS 10000000u
#define WORK_PER_STEP 10u
#define MAX_NAMES 1000000u       /* names alive at once */
#define MAX_LINE_STEPS (1u << 22) /* remembered first steps of lines (older ones are dropped) */

/* An argument: tokens joined by + (a sum) or | (flags), or key=value. */
struct arg {
    const struct token *key; /* NULL for a positional argument */
    const struct token *t;   /* first token of the value */
    size_t n;                /* tokens in the value */
};

#define MAX_ARGS 24
struct args {
    struct arg a[MAX_ARGS];
    size_t count;
};

/* Counts work the machine's events do not show (pages a touch reaches,
 * events a view reads) toward the step budget. */
void interp_charge(struct interp *in, uint64_t work);
/* The same before a statement does work in proportion to a size it was
 * given (pages of a range): false, with an error at t, when the steps left
 * in the budget would not cover it. */
bool interp_afford(struct interp *in, const struct token *t, uint64_t work);
/* The pages of `size` bytes from va, as work: an upper bound that cannot overflow. */
#define RANGE_WORK(size) ((size) / MM_PAGE_SIZE + 2)

/* Reports a runtime error at token t (NULL: the statement) and stops the run. */
bool interp_error(struct interp *in, const struct token *t, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Creates the machine on first use. */
bool interp_machine(struct interp *in);

struct name *interp_name(struct interp *in, const struct token *t, enum name_kind kind);
struct name *interp_new_name(struct interp *in, const struct token *t, enum name_kind kind);
/* The name spelled s, of any kind, or NULL. */
struct name *interp_find_name(const struct interp *in, const char *s);

/* Evaluates NUMBER, NAME, NAME.field, sums: the value of an address, MDL,
 * PFN or count. */
bool eval_number(struct interp *in, const struct arg *a, uint64_t *out);
/* Matches a word against names (case-insensitive); returns its index or -1. */
int eval_choice(const struct arg *a, const char *const *choices);
/* Flags: NAME|NAME|0x10 against a table. */
bool eval_flags(struct interp *in, const struct arg *a, const char *const *names, const unsigned *values,
                unsigned *out);
const struct arg *arg_option(const struct args *args, const char *key);
bool arg_is_word(const struct arg *a, const char *word);

/* The script line whose statement ran operation `step`; 0 if unknown. */
unsigned interp_line_of_step(const struct interp *in, uint64_t step);
/* Writes text to the output with every "step N" named by its script line. */
void interp_put_steps(struct interp *in, const char *text, size_t len);

/* Groups a statement's tokens into arguments. */
bool interp_group(struct interp *in, const struct statement *st, struct args *out);

/* Command modules: each returns false when the run must stop. */
bool commands_run(struct interp *in, const struct args *args);
bool expect_run(struct interp *in, const struct args *args);
bool views_run(struct interp *in, const struct args *args);
/* Is the statement's command known? Fills a hint when it is not. */
bool commands_known(const char *word, char *hint, size_t size);
/* Static checks of one command statement: argument count and verb. */
bool commands_check(struct interp *in, const struct statement *st);
/* Every command's usage line, for .help. */
void commands_help(FILE *out);
/* Command and view words, NULL-terminated, for completion. */
const char *const *commands_words(void);
/* The verbs of a command (NULL-terminated, valid until the next call), or NULL. */
const char *const *commands_verbs(const char *word);

void interp_init(struct interp *in, FILE *out, const char *file);
void interp_fini(struct interp *in);
/* Runs one parsed statement. */
bool interp_statement(struct interp *in, const struct statement *st);
/* Parses and runs text whose first line is numbered first_line, keeping the
 * state for more; false when the text is malformed or a statement failed. */
bool interp_run_chunk(struct interp *in, const char *text, size_t len, unsigned first_line);
/* Prints PASSED / FAILED / STOPPED and returns the exit code. */
int interp_verdict(struct interp *in);
/* Parses and runs a whole script; returns the exit code. */
int interp_run_text(struct interp *in, const char *text, size_t len);

#endif

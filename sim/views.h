/* sim/views.h — machine state in WinDbg's layout: !pfn, !pte, !vad,
 * !process, !memusage, dt _MDL, !verifier, !analyze -v and the STOP line;
 * mmsim's additions follow under an "mmsim:" heading (docs/views.md). */
#ifndef MMSIM_VIEWS_H
#define MMSIM_VIEWS_H

#include <stdio.h>

#include "mm/mm.h"

void view_pfn(FILE *out, mm_machine *m, mm_pfn pfn);
void view_pte(FILE *out, mm_machine *m, mm_process *p, mm_va va);
void view_memusage(FILE *out, mm_machine *m);
void view_process(FILE *out, mm_machine *m, mm_process *p);
void view_trace(FILE *out, mm_machine *m, size_t last);
/* dt _MDL ADDR: the fields, then (mmsim) decoded flags and the PFN array. */
void view_mdl(FILE *out, mm_machine *m, mm_va mdl);
/* dt _MDL with no address: offsets, names and types. */
void view_mdl_type(FILE *out);
/* "MAPPED_TO_SYSTEM_VA|PAGES_LOCKED" */
void view_mdl_flags(char *buf, size_t size, unsigned flags);
/* !analyze -v: WinDbg's banner, arguments and Debugging Details, then
 * (mmsim) Raised by, Why and the history. */
void view_analyze(FILE *out, mm_machine *m, const struct mm_bugcheck *bc);
/* "*** STOP: 0x0000004E (0x…,0x…,0x…,0x…)" and the name, each line after indent. */
void view_stop(FILE *out, const struct mm_bugcheck *bc, const char *indent);
void view_vad(FILE *out, mm_machine *m, mm_process *p);
void view_lockedpages(FILE *out, mm_machine *m);
void view_verifier(FILE *out, mm_machine *m, bool track_locked_pages, bool track_ptes);
/* !pool ADDR: the pool page holding an address (sim/poolview.c). */
void view_pool(FILE *out, mm_machine *m, mm_va va);
enum history_of { HISTORY_PFN, HISTORY_MDL, HISTORY_VA };
/* Every recorded event that touched a page frame, an MDL or a page of VA:
 * in words, numbered by step; verbose adds mmsim's notes and raw fields. */
size_t view_history(FILE *out, mm_machine *m, enum history_of kind, uint64_t what, bool verbose);
/* What the events from first_event on changed: frames' lists and counts,
 * PTE writes, and the other events in short. */
void view_changes(FILE *out, mm_machine *m, uint64_t first_event);
/* "4 - ReadWrite" style name of a 5-bit protection. */
const char *view_protection_name(unsigned protection);

#endif

/* libmm/host/hostmmu.h — the hosted layout's host view (POSIX): a host
 * range reserved per machine, frames of the memory file mapped into it as
 * the simulated TLB caches them, and a SIGSEGV handler that sends every
 * access the host refuses to the simulated fault path. */
#ifndef MMI_HOST_HOSTMMU_H
#define MMI_HOST_HOSTMMU_H

#include "mm/machine.h"

/* Reserves the host range a hosted layout of cfg needs; its base, aligned
 * for mmi_layout_hosted, in *base. STATUS_NOT_SUPPORTED where the host
 * cannot (no POSIX memory file, or host pages other than 4 KiB). */
mm_status mmi_host_reserve(const struct mm_config *cfg, mm_va *base);
/* Starts the host view of a booted machine over its reserved range. */
mm_status mmi_host_attach(mm_machine *m);
/* Ends it and gives the range back (machine destruction). */
void mmi_host_detach(mm_machine *m);
/* Adds [lo, hi) to the machine's host view (a driver image the host's
 * loader placed): its faults go to the machine, the TLB maps it. */
bool mmi_host_add_range(mm_machine *m, mm_va lo, mm_va hi);
/* Puts the machine's fault handler in front again (a test framework may
 * have installed its own since the last call into the machine). */
void mmi_host_enter(mm_machine *m);
/* The machine whose host view holds va, or NULL. */
mm_machine *mmi_host_owner(mm_va va);
/* Gives every shared-object image's pages back to the host and unloads it
 * (libmm/host/hostimage.c; at detach). */
void mmi_host_images_release(mm_machine *m);
/* On a dead machine: gives back the shared-object image holding va, so the
 * host's loader, unwinders and leak checkers still read it; false when no
 * such image holds va. */
bool mmi_host_image_give_back_at(mm_machine *m, mm_va va);
/* Snapshots (libmm/snapshot.c): the images loaded now are the snapshot's;
 * before a restore the ones loaded since are given back and unloaded (their
 * records vanish with the restore); after it, images given back after a
 * bug check are the machine's again. */
void mmi_host_images_snapshot(mm_machine *m);
void mmi_host_images_drop_since(mm_machine *m);
void mmi_host_images_retake(mm_machine *m);
/* Drops the extra range starting at lo (an image unloaded by a restore). */
void mmi_host_remove_range(mm_machine *m, mm_va lo);
/* True while code runs on a simulated kernel stack on this thread. */
bool mmi_host_on_kernel_stack(void);
/* Are user reads watched (mm_machine_watch_user_reads)? Then the host view
 * maps no user page. Part of the machine's state: a restore brings back
 * the snapshot's setting. */
bool mmi_host_watching(const mm_machine *m);

#endif

/*
 * parent: the supervisor process (parent.c) and its start-up steps
 * (parent_setup.c: spool directories, listeners, socketpairs, daemon).
 */
#ifndef SEALPOST_PARENT_H
#define SEALPOST_PARENT_H

#include "parent/proc.h"
#include "util/conf.h"

/* Run the server until stopped; returns the process exit status. */
int parent_run(const struct conf *c, int foreground);

int parent_prepare(const struct conf *c, struct proc_setup *s);
/* Lock the spool for this server (one server per spool: two would deliver
 * the same queue files); -1 with one line on stderr when another holds it. */
int parent_lock_spool(const struct conf *c, struct proc_setup *s);
void parent_write_pid(const struct proc_setup *s);
int parent_bind(const struct conf *c, struct proc_setup *s);
int parent_pairs(struct proc_setup *s);
int parent_daemonize(void);
/* Soft RLIMIT_NOFILE up to the hard limit, logged; before forking. */
void parent_raise_nofile(void);

/* parent_tls.c */
int parent_tls_load(const struct conf *c, struct proc_setup *s);
void parent_tls_reload(const struct conf *c, struct proc_setup *s);
void parent_tls_rotate(struct proc_setup *s);
#define PARENT_TICKET_ROTATE 3600 /* seconds between session ticket keys */

#endif

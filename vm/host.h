/* The host program's shared pieces: state setup, protected calls with tracebacks and
 * Ctrl-C, error reports. main.c owns the command line, repl.c the interactive prompt. */
#ifndef LUACNN_HOST_H
#define LUACNN_HOST_H

#include <lua.h>

/* Opens the standard libraries, registers the C core as package.preload["luacnn.core"]
 * and puts the stdlib (installed, else the source tree) at the front of package.path.
 * Also remembers L for the SIGINT handler and readline callbacks. */
void lc_host_open(lua_State *L);

/* The state lc_host_open was given: the one C global, needed by code that the kernel
 * (signals) or readline (completion) calls without a way to pass it. */
lua_State *lc_host_state(void);

/* Calls the function below narg arguments like lua_pcall, with a traceback added to
 * errors and Ctrl-C turned into an "interrupted!" error while it runs. */
int lc_host_docall(lua_State *L, int narg, int nres);

/* For a non-OK status, prints "luacnn: <error on top of the stack>" to stderr and pops
 * it. Returns status unchanged. */
int lc_host_report(lua_State *L, int status);

/* The status an error object at idx asks the program to exit with, or -1 when it is an
 * ordinary error: a table {exit_status = 0..255, message = "..."} (train/session.lua
 * raises one after writing a checkpoint on SIGINT/SIGTERM). */
int lc_host_exit_request(lua_State *L, int idx);

/* Makes Ctrl-C set the interrupt hook without killing the process, and without
 * SA_RESTART so a blocked read returns EINTR and the prompt can notice. */
void lc_host_catch_interrupt(void);

/* Whether a Ctrl-C arrived that no running code has turned into an error yet. */
int lc_host_interrupt_pending(lua_State *L);

/* Like lc_host_interrupt_pending, but also forgets the Ctrl-C. */
int lc_host_take_interrupt(lua_State *L);

/* Pushes "luacnn 0.1.0 (Lua 5.4.4, OpenBLAS ...)", without a newline. */
void lc_host_push_version(lua_State *L);

#endif

/* What a rules file needs from the engine: emitting a finding (severity
 * from the options, then the sink) and building its stacks. Called from
 * engine_process, with the engine locked or, for an export, release or
 * deallocation that reads nothing across exporters, its exporter's shard
 * (registry.h). */
#ifndef BUFSAN_ENGINE_RULES_H
#define BUFSAN_ENGINE_RULES_H

#include "engine.h"

void engine_emit_locked(bs_engine *e, bs_finding *f);
void engine_add_stack(bs_finding *f, const char *role, const char *title, uint32_t thread,
                      uint32_t stack);
/* FMT takes the thread (%u) then the flag names (%s). */
const char *engine_fmt_title(bs_finding *f, const char *fmt, uint32_t thread, int32_t flags);

/* rules_view.c: getbuffer conformance and no-gil (BS_EV_BUFFER_CALL) */
void rules_view_on_call(bs_engine *e, const bs_event *ev);

/* rules_view.c: consumer-modified-view, at a release matched to its export */
typedef struct {
    uint64_t obj;
    uint32_t type_name, thread, stack;
    int32_t flags;
    const bs_view_fields *v;
    uint64_t contents_hash;
} bs_export_info;
/* The live export filled into VIEW, if any. */
int engine_find_export_locked(bs_engine *e, uint64_t view, bs_export_info *out);

void rules_view_on_release(bs_engine *e, const bs_export_info *x, const bs_event *ev);

#endif

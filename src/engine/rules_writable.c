/* The WRITABLE answer rules: inconsistent-writable and
 * writable-request-ignored. The docs of bf_getbuffer: "the choice [of
 * readonly] MUST be consistent for all consumers". Answers are kept in the
 * exporter's record for its whole life (not only while exports are live),
 * which its deallocation drops, so that a new object at a reused address
 * starts afresh; a different type at the same address also starts afresh.
 * Called with the engine lock held; no Python. */
#include <stdio.h>
#include <string.h>

#include "registry.h"

#define PYBUF_WRITABLE 0x1

static void report(bs_engine *e, const bs_event *ev, bs_severity max, const char *why,
                   uint32_t other_thread, uint32_t other_stack, int32_t other_flags,
                   const char *other_title)
{
    if (engine_check_off(e, BS_CHECK_INCONSISTENT_WRITABLE))
        return;
    bs_finding f = {.check = BS_CHECK_INCONSISTENT_WRITABLE, .max_severity = max};
    const char *tn = engine_string(e, ev->type_name);
    snprintf(f.message, sizeof f.message, "%s at 0x%llx answered readonly=%d %s", tn,
             (unsigned long long)ev->obj, ev->v.readonly ? 1 : 0, why);
    f.has_exporter = 1;
    f.exporter_type = tn;
    f.exporter_addr = ev->obj;
    f.exporter_len = ev->v.len;
    f.exporter_readonly = ev->v.readonly;
    f.has_request = 1;
    f.flags = ev->flags;
    f.count = 1;
    f.bytes = ev->v.len;
    finding_add_stack(&f, "acquire",
                      finding_title(&f, "acquired by thread T%u with %s at:", ev->thread, ev->flags),
                      ev->thread, ev->stack);
    finding_add_stack(&f, "other", finding_title(&f, other_title, other_thread, other_flags),
                      other_thread, other_stack);
    engine_emit(e, &f);
}

static void report_ignored(bs_engine *e, const bs_event *ev)
{
    bs_finding f = {.check = BS_CHECK_WRITABLE_REQUEST_IGNORED};
    const char *tn = engine_string(e, ev->type_name);
    snprintf(f.message, sizeof f.message,
             "%s at 0x%llx granted a PyBUF_WRITABLE request with readonly=1: it must fail "
             "with BufferError instead", tn, (unsigned long long)ev->obj);
    f.has_exporter = 1;
    f.exporter_type = tn;
    f.exporter_addr = ev->obj;
    f.exporter_len = ev->v.len;
    f.exporter_readonly = 1;
    f.has_request = 1;
    f.flags = ev->flags;
    f.count = 1;
    f.bytes = ev->v.len;
    finding_add_stack(&f, "acquire",
                      finding_title(&f, "acquired by thread T%u with %s at:", ev->thread, ev->flags),
                      ev->thread, ev->stack);
    engine_emit(e, &f);
}

void writable_on_export(bs_engine *e, const bs_event *ev, exporter_rec *o)
{
    int ro = ev->v.readonly != 0;
    if ((ev->flags & PYBUF_WRITABLE) && ro) {
        report_ignored(e, ev);
        return; /* not an answer to compare: the request itself was broken */
    }
    writable_answers *a = &o->answers;
    if (a->type_name != ev->type_name) {
        /* the first answer, or a different object at a reused address whose
         * death was not seen */
        memset(a, 0, sizeof *a);
        a->type_name = ev->type_name;
    }
    if (ev->flags & PYBUF_WRITABLE) {
        if (!a->granted) {
            a->granted = 1;
            a->granted_stack = ev->stack;
            a->granted_thread = ev->thread;
            a->granted_flags = ev->flags;
        }
    } else {
        /* a live export of the same exporter with the other answer? (Only
         * where this exporter ever gave the other answer: no walk of an
         * exporter's thousands of live exports per export.) */
        export_rec *conflict = NULL;
        for (export_rec *x = a->seen[!ro] ? o->exports : NULL; x; x = x->obj_next)
            if (x->in_view_map && !(x->flags & PYBUF_WRITABLE) && (x->v.readonly != 0) != ro) {
                conflict = x;
                break;
            }
        if (conflict && !a->reported_live) {
            a->reported_live = 1;
            report(e, ev, BS_SEV_ERROR,
                   "to a request without PyBUF_WRITABLE while an export it answered otherwise "
                   "is still live (the choice MUST be consistent for all consumers)",
                   conflict->thread, conflict->stack, conflict->flags,
                   "the live export with the other answer was acquired by thread T%u with %s at:");
        } else if (!conflict && a->seen[!ro] && !a->reported_change) {
            a->reported_change = 1;
            report(e, ev, BS_SEV_WARNING,
                   "to a request without PyBUF_WRITABLE after answering otherwise earlier "
                   "(no export overlapped: the object's writability changed)",
                   a->thread[!ro], a->stack[!ro], a->flags[!ro],
                   "the earlier answer was given to thread T%u with %s at:");
        }
        if (!a->seen[ro]) {
            a->seen[ro] = 1;
            a->stack[ro] = ev->stack;
            a->thread[ro] = ev->thread;
            a->flags[ro] = ev->flags;
        }
    }
    /* the stricter reading: PyBUF_WRITABLE only asks for an error when writing
     * is impossible, so readonly=1 to plain requests while writable requests
     * succeed is inconsistent */
    if (e->opts->writable_policy == BS_WRITABLE_POLICY_STRICT && a->granted && a->seen[1] &&
        !a->reported_policy) {
        a->reported_policy = 1;
        int now_granted = (ev->flags & PYBUF_WRITABLE) != 0;
        report(e, ev, BS_SEV_ERROR,
               now_granted ? "to a PyBUF_WRITABLE request (granted) after answering readonly=1 "
                             "to a request without it (writable_policy=strict)"
                           : "to a request without PyBUF_WRITABLE although it grants "
                             "PyBUF_WRITABLE requests (writable_policy=strict)",
               now_granted ? a->thread[1] : a->granted_thread,
               now_granted ? a->stack[1] : a->granted_stack,
               now_granted ? a->flags[1] : a->granted_flags,
               now_granted ? "the readonly=1 answer was given to thread T%u with %s at:"
                           : "a PyBUF_WRITABLE request was granted to thread T%u with %s at:");
    }
}

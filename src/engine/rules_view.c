/* Rules over one buffer call: what bf_getbuffer returns (error-left-obj,
 * error-without-exception, success-with-exception, bad-view-obj, and the
 * view checker's field-not-requested, field-missing, bad-view-fields,
 * not-contiguous), no-gil, and consumer-modified-view at release. Pure C,
 * runs under the engine lock; the interception layer took every pointer's
 * contents into a snapshot with guarded reads, so nothing here follows a
 * pointer of the original view. */
#include <stdio.h>
#include <string.h>

#include "rules.h"
#include "view_check.h"

static void start(bs_engine *e, bs_finding *f, bs_check_id check, const bs_event *ev)
{
    memset(f, 0, sizeof *f);
    f->check = check;
    f->has_exporter = 1;
    f->exporter_type = engine_string(e, ev->type_name);
    f->exporter_addr = ev->obj;
    f->exporter_len = ev->v.len;
    f->exporter_readonly = ev->v.readonly;
    f->has_request = !(ev->call & BS_CALL_RELEASE);
    f->flags = ev->flags;
    f->count = 1;
    f->bytes = ev->v.len > 0 ? ev->v.len : 0;
}

static void finish_call(bs_engine *e, bs_finding *f, const bs_event *ev)
{
    if (ev->call & BS_CALL_RELEASE)
        engine_add_stack(f, "release", engine_fmt_title(f, "released by thread T%u at:", ev->thread, 0),
                         ev->thread, ev->stack);
    else
        engine_add_stack(f, "acquire",
                         engine_fmt_title(f, "bf_getbuffer called by thread T%u with %s at:",
                                          ev->thread, ev->flags),
                         ev->thread, ev->stack);
    if (f->check != BS_CHECK_NO_GIL && ev->slot_stack)
        engine_add_stack(f, "slot", engine_fmt_title(f, "the bf_getbuffer function is:", 0, 0),
                         ev->thread, ev->slot_stack);
    engine_emit_locked(e, f);
}

void rules_view_on_call(bs_engine *e, const bs_event *ev)
{
    bs_finding f;
    const char *type = engine_string(e, ev->type_name);
    if (ev->call & BS_CALL_NO_GIL) {
        start(e, &f, BS_CHECK_NO_GIL, ev);
        bs_export_info x;
        if ((ev->call & BS_CALL_RELEASE) && engine_find_export_locked(e, ev->view, &x)) {
            /* the request of the export being released */
            f.has_request = 1;
            f.flags = x.flags;
            f.exporter_len = x.v->len;
            f.exporter_readonly = x.v->readonly;
            f.bytes = x.v->len > 0 ? x.v->len : 0;
        }
        snprintf(f.message, sizeof f.message,
                 "%s of %s at 0x%llx on thread T%u, which does not hold the GIL",
                 (ev->call & BS_CALL_RELEASE) ? "buffer release" : "buffer request", type,
                 (unsigned long long)ev->obj, ev->thread);
        finish_call(e, &f, ev);
    }
    if (ev->call & BS_CALL_RELEASE)
        return;
    int exc_known = (ev->call & BS_CALL_EXC_KNOWN) != 0;
    int exc = (ev->call & BS_CALL_EXC_AFTER) != 0;
    if (ev->rc == -1) {
        if (ev->view_obj && ((ev->call & BS_CALL_OBJ_WRITTEN) ||
                             ((ev->call & BS_CALL_OBJ_IS_SELF) && (ev->call & BS_CALL_OBJ_REF_GAINED)))) {
            start(e, &f, BS_CHECK_ERROR_LEFT_OBJ, ev);
            snprintf(f.message, sizeof f.message,
                     "bf_getbuffer of %s returned -1 but left view->obj = 0x%llx%s; on error it "
                     "must be NULL",
                     type, (unsigned long long)ev->view_obj,
                     (ev->call & BS_CALL_OBJ_REF_GAINED) ? " holding a new reference (leaked)" : "");
            finish_call(e, &f, ev);
        }
        if (exc_known && !exc) {
            start(e, &f, BS_CHECK_ERROR_WITHOUT_EXCEPTION, ev);
            snprintf(f.message, sizeof f.message,
                     "bf_getbuffer of %s returned -1 with no exception set", type);
            finish_call(e, &f, ev);
        }
        return;
    }
    if (ev->rc != 0) {
        start(e, &f, BS_CHECK_SUCCESS_WITH_EXCEPTION, ev);
        snprintf(f.message, sizeof f.message,
                 "bf_getbuffer of %s returned %d: it must return 0 or -1", type, (int)ev->rc);
        finish_call(e, &f, ev);
        return;
    }
    if (exc_known && exc) {
        start(e, &f, BS_CHECK_SUCCESS_WITH_EXCEPTION, ev);
        snprintf(f.message, sizeof f.message,
                 "bf_getbuffer of %s returned 0 with an exception set", type);
        finish_call(e, &f, ev);
    }
    if (!ev->view_obj) {
        start(e, &f, BS_CHECK_BAD_VIEW_OBJ, ev);
        snprintf(f.message, sizeof f.message,
                 "bf_getbuffer of %s returned 0 with view->obj NULL: nothing keeps the memory alive "
                 "and PyBuffer_Release cannot find the exporter", type);
        finish_call(e, &f, ev);
    } else if ((ev->call & BS_CALL_OBJ_IS_SELF) && !(ev->call & BS_CALL_OBJ_REF_GAINED)) {
        start(e, &f, BS_CHECK_BAD_VIEW_OBJ, ev);
        snprintf(f.message, sizeof f.message,
                 "bf_getbuffer of %s set view->obj without a new reference to it; "
                 "PyBuffer_Release will drop one the view never owned", type);
        finish_call(e, &f, ev);
    }
    if ((ev->call & BS_CALL_CHECK_VIEW) && ev->snapshot) {
        bs_view_violation viol[BS_VIEW_MAX_VIOLATIONS];
        int n = view_check_export(ev->snapshot, viol, BS_VIEW_MAX_VIOLATIONS);
        char fl[128];
        bs_flag_names(ev->flags, fl, sizeof fl);
        for (int i = 0; i < n; i++) {
            start(e, &f, viol[i].check, ev);
            f.fields = viol[i].fields;
            snprintf(f.message, sizeof f.message, "bf_getbuffer of %s answered %s: %s", type, fl,
                     viol[i].detail);
            finish_call(e, &f, ev);
        }
    }
}

void rules_view_on_release(bs_engine *e, const bs_export_info *x, const bs_event *ev)
{
    if (!x->contents_hash || !ev->contents_hash)
        return;
    const bs_view_fields *a = x->v, *b = &ev->v;
    const char *what = NULL;
    char detail[160] = "";
    if (a->buf != b->buf)
        what = "buf", snprintf(detail, sizeof detail, "0x%llx -> 0x%llx",
                               (unsigned long long)a->buf, (unsigned long long)b->buf);
    else if (a->len != b->len)
        what = "len", snprintf(detail, sizeof detail, "%lld -> %lld", (long long)a->len,
                               (long long)b->len);
    else if (a->format != b->format)
        what = "format";
    else if (a->shape != b->shape)
        what = "shape";
    else if (a->strides != b->strides)
        what = "strides";
    else if (a->suboffsets != b->suboffsets)
        what = "suboffsets";
    else if (a->internal != b->internal)
        what = "internal";
    /* contents the exporter's own answer made unreadable or garbage (a
     * shape in freed memory) change without the consumer: not compared */
    else if (x->contents_hash != ev->contents_hash &&
             x->contents_hash != BS_VIEW_CONTENTS_UNCHECKED &&
             ev->contents_hash != BS_VIEW_CONTENTS_UNCHECKED)
        what = "the contents of format, shape, strides or suboffsets";
    if (!what)
        return;
    bs_finding f = {.check = BS_CHECK_CONSUMER_MODIFIED_VIEW};
    const char *type = engine_string(e, x->type_name);
    snprintf(f.message, sizeof f.message,
             "the view of %s at 0x%llx was released with %s changed%s%s%s: the consumer modified "
             "what the exporter filled in, and the exporter's release may act on the wrong values",
             type, (unsigned long long)x->obj, what, detail[0] ? " (" : "", detail,
             detail[0] ? ")" : "");
    f.has_exporter = 1;
    f.exporter_type = type;
    f.exporter_addr = x->obj;
    f.exporter_len = a->len;
    f.exporter_readonly = a->readonly;
    f.has_request = 1;
    f.flags = x->flags;
    f.count = 1;
    f.bytes = a->len > 0 ? a->len : 0;
    engine_add_stack(&f, "release", engine_fmt_title(&f, "released by thread T%u at:", ev->thread, 0),
                     ev->thread, ev->stack);
    engine_add_stack(&f, "acquire",
                     engine_fmt_title(&f, "acquired by thread T%u with %s at:", x->thread, x->flags),
                     x->thread, x->stack);
    engine_emit_locked(e, &f);
}

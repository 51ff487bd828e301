/** @odoo-module **/
import { registry } from "@web/core/registry";

/**
 * The last step of a tour that ends on a reload: a tour that ends while the web
 * client still loads (a saved record, its chatter) leaves requests running when
 * the test closes its cursor, and the test fails with them. The body carries
 * `o_sms_tour_rpc_pending` while an RPC is in flight; an RPC is sent before the
 * DOM it feeds is patched, so once a step has seen the new state, the requests
 * that state made are counted.
 */
const PENDING_CLASS = "o_sms_tour_rpc_pending";

// By request id, as the web client's loading indicator does: an aborted request (an
// autocomplete's previous search) answers RPC:RESPONSE again after its own response.
registry.category("services").add("sms_marketing_tour_rpc_counter", {
    start(env) {
        const pending = new Set();
        env.bus.addEventListener("RPC:REQUEST", ({ detail }) => {
            pending.add(detail.data.id);
            document.body.classList.add(PENDING_CLASS);
        });
        env.bus.addEventListener("RPC:RESPONSE", ({ detail }) => {
            pending.delete(detail.data.id);
            if (!pending.size) {
                document.body.classList.remove(PENDING_CLASS);
            }
        });
    },
});

export function nothingLeftToLoad() {
    return [
        {
            content: "Nothing left to load",
            trigger: `body:not(.${PENDING_CLASS})`,
            in_modal: false,
            isCheck: true,
        },
    ];
}

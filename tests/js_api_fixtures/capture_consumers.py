#!/usr/bin/env python3
"""Capture nats-server's $JS.API.CONSUMER.* replies as fixtures (consumer_captures.json).

The same harness as capture.py (whose Conn it imports): the real nats-server with -js on a
temp store dir, CASES replayed in order over one raw connection. A case's payload may be a
function of `echo`, the last `config` each consumer name was answered with, so an INFO
config can be fed back to CREATE. Usage:
  python3 tests/js_api_fixtures/capture_consumers.py .venv/bin/nats-server
"""
import json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture import j, nats_server  # noqa: E402

SERVER = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_SERVER", "nats-server")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "consumer_captures.json")
LIMITS_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "consumer_limit_captures.json")

# Server and account limits (replayed with the same limits in the test's ApiEnv).
LIMITS_CONF = """
jetstream { limits { max_ack_pending: 100, max_request_batch: 50 } }
accounts { A: { jetstream: { max_consumers: 3, max_ack_pending: 20 }, users: [{user: a, password: a}] } }
no_auth_user: a
"""

S = 1_000_000_000
API = "$JS.API.CONSUMER."


def cc(stream, cfg, action=None, **extra):
    body = {"stream_name": stream, "config": cfg}
    if action is not None:
        body["action"] = action
    body.update(extra)
    return j(body)


def changed(name, **kv):
    """The echoed config of `name` with some fields replaced, as a create body."""
    def f(echo):
        cfg = dict(echo[name])
        for k, v in kv.items():
            if v is None:
                cfg.pop(k, None)
            else:
                cfg[k] = v
        return cc(STREAM_OF[name], cfg)
    return f


def echo_back(name, action=None):
    return lambda echo: cc(STREAM_OF[name], echo[name], action)


STREAM_OF = {}
ORD = "C_ORD"
PULL = {"durable_name": "d1", "ack_policy": "explicit"}
PUSH = {"durable_name": "d2", "deliver_subject": "dlv.d2", "ack_policy": "explicit"}
PULL_FULL = {
    "durable_name": "pf", "name": "pf", "description": "every pull field", "deliver_policy": "all",
    "ack_policy": "all", "ack_wait": 10 * S, "max_deliver": 5, "backoff": [S, 2 * S],
    "filter_subject": "corders.b", "replay_policy": "original", "sample_freq": "50%",
    "max_waiting": 64, "max_ack_pending": 20, "headers_only": True, "max_batch": 10,
    "max_expires": 30 * S, "max_bytes": 1024, "inactive_threshold": 60 * S, "num_replicas": 1,
    "mem_storage": True, "metadata": {"team": "a"},
}
PUSH_FULL = {
    "durable_name": "pushf", "deliver_subject": "dlv.pushf", "deliver_group": "grp",
    "deliver_policy": "new", "ack_policy": "explicit", "ack_wait": 5 * S, "max_deliver": 3,
    "filter_subjects": ["corders.a", "corders.c"], "replay_policy": "instant",
    "rate_limit_bps": 1000000, "max_ack_pending": 10, "flow_control": True,
    "idle_heartbeat": 2 * S, "headers_only": False, "description": "push <all> & more",
}

# (name, subject, payload-or-fn, headers-or-None)
CASES = [
    ("s_create_ord", "$JS.API.STREAM.CREATE.C_ORD", j({"name": ORD, "subjects": ["corders.>"]}), None),
    ("s_pub_1", "corders.a", b"1", None),
    ("s_pub_2", "corders.b", b"2", None),
    ("s_pub_3", "corders.a", b"3", None),
    ("s_create_wq", "$JS.API.STREAM.CREATE.C_WQ", j({"name": "C_WQ", "subjects": ["cwq.>"], "retention": "workqueue"}), None),
    ("s_create_lim", "$JS.API.STREAM.CREATE.C_LIM", j({"name": "C_LIM", "subjects": ["clim.>"], "consumer_limits": {"max_ack_pending": 50, "inactive_threshold": 10 * S}}), None),
    ("s_create_int", "$JS.API.STREAM.CREATE.C_INT", j({"name": "C_INT", "subjects": ["cint.>"], "retention": "interest"}), None),
    ("s_create_max", "$JS.API.STREAM.CREATE.C_MAX", j({"name": "C_MAX", "subjects": ["cmax.>"], "max_consumers": 1}), None),
    # creates of every kind
    ("pull_durable", API + "CREATE.C_ORD.d1", cc(ORD, PULL), None),
    ("pull_durable_same_again", API + "CREATE.C_ORD.d1", cc(ORD, PULL), None),
    ("info_d1", API + "INFO.C_ORD.d1", b"", None),
    ("pull_durable_echo_back", API + "CREATE.C_ORD.d1", echo_back("d1"), None),
    ("pull_durable_echo_back_create", API + "CREATE.C_ORD.d1", echo_back("d1", "create"), None),
    ("push_durable_legacy", API + "DURABLE.CREATE.C_ORD.d2", cc(ORD, PUSH), None),
    ("push_durable_echo_back", API + "DURABLE.CREATE.C_ORD.d2", echo_back("d2"), None),
    ("durable_legacy_not_set", API + "DURABLE.CREATE.C_ORD.d3", cc(ORD, {}), None),
    ("durable_legacy_mismatch", API + "DURABLE.CREATE.C_ORD.d3", cc(ORD, {"durable_name": "x"}), None),
    ("durable_legacy_path_sep", API + "DURABLE.CREATE.C_ORD.a/b", cc(ORD, {"durable_name": "a/b"}), None),
    ("durable_legacy_star", API + "DURABLE.CREATE.C_ORD.a*b", cc(ORD, {"durable_name": "a*b"}), None),
    ("ephemeral_legacy_generated", API + "CREATE.C_ORD", cc(ORD, {"ack_policy": "none"}), None),
    ("ephemeral_legacy_push_generated", API + "CREATE.C_ORD", cc(ORD, {"deliver_subject": "dlv.eph"}), None),
    ("ephemeral_legacy_with_durable", API + "CREATE.C_ORD", cc(ORD, {"durable_name": "x"}), None),
    ("ephemeral_legacy_named", API + "CREATE.C_ORD", cc(ORD, {"name": "eph1"}), None),
    ("ephemeral_legacy_name_dot", API + "CREATE.C_ORD", cc(ORD, {"name": "a.b"}), None),
    ("ephemeral_legacy_name_gt", API + "CREATE.C_ORD", cc(ORD, {"name": "a>"}), None),
    ("new_form_ephemeral", API + "CREATE.C_ORD.e2", cc(ORD, {"name": "e2", "ack_policy": "explicit"}), None),
    ("new_form_durable_mismatch", API + "CREATE.C_ORD.e3", cc(ORD, {"durable_name": "zz"}), None),
    ("new_form_name_overridden", API + "CREATE.C_ORD.e3", cc(ORD, {"name": "zz", "ack_policy": "explicit"}), None),
    ("new_form_path_sep", API + "CREATE.C_ORD.a\\b", cc(ORD, {}), None),
    ("new_form_filter", API + "CREATE.C_ORD.f1.corders.a", cc(ORD, {"durable_name": "f1", "filter_subject": "corders.a", "ack_policy": "explicit"}), None),
    ("new_form_filter_wild", API + "CREATE.C_ORD.f1w.corders.>", cc(ORD, {"name": "f1w", "filter_subject": "corders.>"}), None),
    ("new_form_filter_mismatch", API + "CREATE.C_ORD.f2.corders.a", cc(ORD, {"filter_subject": "corders.b"}), None),
    ("new_form_filter_missing", API + "CREATE.C_ORD.f2.corders.a", cc(ORD, {}), None),
    ("new_form_filter_with_multi", API + "CREATE.C_ORD.f3.corders.a", cc(ORD, {"filter_subjects": ["corders.a", "corders.b"]}), None),
    ("stream_name_mismatch", API + "CREATE.C_ORD.x1", cc("OTHER", {}), None),
    ("stream_name_missing", API + "CREATE.C_ORD.x1", j({"config": {}}), None),
    ("empty_body", API + "CREATE.C_ORD.x1", b"", None),
    ("null_body", API + "CREATE.C_ORD.x1", b"null", None),
    ("bad_json", API + "CREATE.C_ORD.x1", b"{", None),
    ("bad_ack_policy", API + "CREATE.C_ORD.x1", cc(ORD, {"ack_policy": "sometimes"}), None),
    ("bad_deliver_policy", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": "whenever"}), None),
    ("bad_replay_policy", API + "CREATE.C_ORD.x1", cc(ORD, {"replay_policy": "fast"}), None),
    ("ack_policy_null", API + "CREATE.C_ORD.x1", cc(ORD, {"ack_policy": None}), None),
    ("deliver_policy_number", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": 3}), None),
    ("action_null", API + "CREATE.C_ORD.x1", cc(ORD, {}, None) [:-1] + b', "action": null}', None),
    ("max_deliver_string", API + "CREATE.C_ORD.x1", cc(ORD, {"max_deliver": "5"}), None),
    ("opt_start_time_null", API + "CREATE.C_ORD.ostn", cc(ORD, {"opt_start_time": None, "backoff": None, "metadata": None}), None),
    ("bad_action", API + "CREATE.C_ORD.x1", cc(ORD, {}, "upsert"), None),
    ("missing_stream", API + "CREATE.NOPE.x1", cc("NOPE", {}), None),
    ("replicas_3", API + "CREATE.C_ORD.x1", cc(ORD, {"num_replicas": 3}), None),
    ("replicas_neg", API + "CREATE.C_ORD.x1", cc(ORD, {"num_replicas": -1}), None),
    ("replicas_1", API + "CREATE.C_ORD.r1", cc(ORD, {"num_replicas": 1, "ack_policy": "explicit"}), None),
    # deliver policy vs opt_start_*
    ("by_seq_missing", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": "by_start_sequence"}), None),
    ("all_with_seq", API + "CREATE.C_ORD.x1", cc(ORD, {"opt_start_seq": 5}), None),
    ("all_with_time", API + "CREATE.C_ORD.x1", cc(ORD, {"opt_start_time": "2020-01-01T00:00:00Z"}), None),
    ("last_with_seq", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": "last", "opt_start_seq": 5}), None),
    ("new_with_time", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": "new", "opt_start_time": "2020-01-01T00:00:00Z"}), None),
    ("by_time_missing", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": "by_start_time"}), None),
    ("by_time_with_seq", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": "by_start_time", "opt_start_time": "2020-01-01T00:00:00Z", "opt_start_seq": 2}), None),
    ("by_seq_with_time", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": "by_start_sequence", "opt_start_time": "2020-01-01T00:00:00Z", "opt_start_seq": 2}), None),
    ("lps_with_seq", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": "last_per_subject", "opt_start_seq": 2}), None),
    ("lps_no_filter", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_policy": "last_per_subject"}), None),
    ("by_seq_ok", API + "CREATE.C_ORD.bs", cc(ORD, {"deliver_policy": "by_start_sequence", "opt_start_seq": 2, "ack_policy": "explicit"}), None),
    ("by_time_ok", API + "CREATE.C_ORD.bt", cc(ORD, {"deliver_policy": "by_start_time", "opt_start_time": "2020-01-01T00:00:00.5+02:00"}), None),
    ("last_ok", API + "CREATE.C_ORD.dl", cc(ORD, {"deliver_policy": "last"}), None),
    ("new_ok", API + "CREATE.C_ORD.dn", cc(ORD, {"deliver_policy": "new"}), None),
    ("lps_ok", API + "CREATE.C_ORD.lps", cc(ORD, {"deliver_policy": "last_per_subject", "filter_subject": "corders.>"}), None),
    ("undefined_deliver_policy", API + "CREATE.C_ORD.und", cc(ORD, {"deliver_policy": "undefined"}), None),
    # push rules
    ("push_max_waiting", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "dlv.x", "max_waiting": 10}), None),
    ("push_wildcard", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "dlv.*"}), None),
    ("push_cycle", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "corders.x"}), None),
    ("push_bad_subject", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "dlv..x"}), None),
    ("push_small_hb", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "dlv.x", "idle_heartbeat": 50000000}), None),
    ("push_max_ack_ack_none", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "dlv.x", "max_ack_pending": 10}), None),
    ("push_fc_no_hb", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "dlv.x", "flow_control": True}), None),
    ("push_full", API + "CREATE.C_ORD.pushf", cc(ORD, PUSH_FULL), None),
    ("push_full_echo_back", API + "CREATE.C_ORD.pushf", echo_back("pushf"), None),
    ("group_without_deliver_subject", API + "CREATE.C_ORD.gw", cc(ORD, {"deliver_group": "g", "ack_policy": "explicit"}), None),
    ("ack_fc_push", API + "CREATE.C_ORD.afc", cc(ORD, {"deliver_subject": "dlv.afc", "ack_policy": "flow_control"}), None),
    ("ack_fc_push_pedantic", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "dlv.afc2", "ack_policy": "flow_control"}, pedantic=True), None),
    ("ack_fc_push_max_deliver", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "dlv.afc3", "ack_policy": "flow_control", "max_deliver": 3}), None),
    ("ack_fc_push_ack_wait", API + "CREATE.C_ORD.x1", cc(ORD, {"deliver_subject": "dlv.afc4", "ack_policy": "flow_control", "ack_wait": S}), None),
    # a push consumer whose deliver subject has interest (this connection's _INBOX.> sub)
    ("push_bound_create", API + "DURABLE.CREATE.C_ORD.pb", cc(ORD, {"durable_name": "pb", "deliver_subject": "_INBOX.bound", "deliver_policy": "new", "ack_policy": "explicit"}), None),
    ("sleep_200ms", "", b"", None),
    ("push_bound_info", API + "INFO.C_ORD.pb", b"", None),
    ("push_bound_move", API + "DURABLE.CREATE.C_ORD.pb", cc(ORD, {"durable_name": "pb", "deliver_subject": "dlv.pb2", "deliver_policy": "new", "ack_policy": "explicit"}), None),
    ("push_bound_same", API + "DURABLE.CREATE.C_ORD.pb", cc(ORD, {"durable_name": "pb", "deliver_subject": "_INBOX.bound", "deliver_policy": "new", "ack_policy": "explicit", "description": "d"}), None),
    # pull rules
    ("pull_hb", API + "CREATE.C_ORD.x1", cc(ORD, {"idle_heartbeat": S}), None),
    ("pull_fc", API + "CREATE.C_ORD.x1", cc(ORD, {"flow_control": True}), None),
    ("pull_fc_hb", API + "CREATE.C_ORD.x1", cc(ORD, {"flow_control": True, "idle_heartbeat": S}), None),
    ("pull_rate_limit", API + "CREATE.C_ORD.x1", cc(ORD, {"rate_limit_bps": 100}), None),
    ("pull_max_expires_small", API + "CREATE.C_ORD.x1", cc(ORD, {"max_expires": 500000}), None),
    ("pull_negatives_zeroed", API + "CREATE.C_ORD.neg", cc(ORD, {"max_batch": -1, "max_expires": -1, "max_bytes": -1, "max_waiting": -1, "inactive_threshold": -1, "max_ack_pending": -5, "max_deliver": -7, "ack_policy": "explicit"}), None),
    ("pull_full", API + "CREATE.C_ORD.pf", cc(ORD, PULL_FULL), None),
    ("pull_full_echo_back", API + "CREATE.C_ORD.pf", echo_back("pf"), None),
    # acks, backoff
    ("backoff_over_max_deliver", API + "CREATE.C_ORD.x1", cc(ORD, {"backoff": [S, 2 * S, 3 * S], "max_deliver": 2, "ack_policy": "explicit"}), None),
    ("backoff_negative", API + "CREATE.C_ORD.x1", cc(ORD, {"backoff": [S, -1], "ack_policy": "explicit"}), None),
    ("ack_wait_negative", API + "CREATE.C_ORD.x1", cc(ORD, {"ack_wait": -1, "ack_policy": "explicit"}), None),
    ("backoff_ok", API + "CREATE.C_ORD.bo", cc(ORD, {"backoff": [S, 2 * S], "max_deliver": 5, "ack_policy": "explicit", "ack_wait": 9 * S}), None),
    ("ack_all_defaults", API + "CREATE.C_ORD.aa", cc(ORD, {"ack_policy": "all"}), None),
    ("ack_flow_control_pull", API + "CREATE.C_ORD.x1", cc(ORD, {"ack_policy": "flow_control"}), None),
    # filters
    ("filter_both", API + "CREATE.C_ORD.x1", cc(ORD, {"filter_subject": "corders.a", "filter_subjects": ["corders.b"]}), None),
    ("filter_overlap", API + "CREATE.C_ORD.x1", cc(ORD, {"filter_subjects": ["corders.*", "corders.a"]}), None),
    ("filter_empty_entry", API + "CREATE.C_ORD.x1", cc(ORD, {"filter_subjects": [""]}), None),
    ("filter_bad", API + "CREATE.C_ORD.x1", cc(ORD, {"filter_subject": "corders..a"}), None),
    ("filter_subjects_bad", API + "CREATE.C_ORD.x1", cc(ORD, {"filter_subjects": ["corders.a", "b..c"]}), None),
    ("filter_outside_stream", API + "CREATE.C_ORD.fo", cc(ORD, {"filter_subject": "elsewhere.x"}), None),
    ("filter_subjects_ok", API + "CREATE.C_ORD.fs", cc(ORD, {"filter_subjects": ["corders.a", "corders.b"], "ack_policy": "explicit"}), None),
    ("filter_subjects_empty_list", API + "CREATE.C_ORD.fe", cc(ORD, {"filter_subjects": []}), None),
    # other field checks
    ("sample_freq_bad", API + "CREATE.C_ORD.x1", cc(ORD, {"sample_freq": "abc"}), None),
    ("sample_freq_negative", API + "CREATE.C_ORD.x1", cc(ORD, {"sample_freq": "-5"}), None),
    ("sample_freq_overflow", API + "CREATE.C_ORD.x1", cc(ORD, {"sample_freq": "99999999999999999999%"}), None),
    ("description_max_ok", API + "CREATE.C_ORD.dmax", cc(ORD, {"description": "d" * 4096}), None),
    ("name_max_ok", API + "DURABLE.CREATE.C_ORD." + "n" * 255, cc(ORD, {"durable_name": "n" * 255}), None),
    ("description_too_long", API + "CREATE.C_ORD.x1", cc(ORD, {"description": "d" * 4097}), None),
    ("metadata_too_long", API + "CREATE.C_ORD.x1", cc(ORD, {"metadata": {"k": "v" * (128 * 1024)}}), None),
    ("name_too_long", API + "DURABLE.CREATE.C_ORD." + "n" * 256, cc(ORD, {"durable_name": "n" * 256}), None),
    ("pedantic_max_deliver", API + "CREATE.C_ORD.x1", cc(ORD, {"max_deliver": -5}, pedantic=True), None),
    ("pedantic_backoff_ack_wait", API + "CREATE.C_ORD.x1", cc(ORD, {"backoff": [S], "ack_policy": "explicit"}, pedantic=True), None),
    ("pedantic_ok", API + "CREATE.C_ORD.ped", cc(ORD, {"ack_policy": "explicit"}, pedantic=True), None),
    ("required_level_too_high", API + "CREATE.C_ORD.x1", cc(ORD, {}), [("Nats-Required-Api-Level", "99")]),
    # priority groups
    ("priority_pinned", API + "CREATE.C_ORD.pin", cc(ORD, {"priority_policy": "pinned_client", "priority_groups": ["g1"], "ack_policy": "explicit"}), None),
    ("priority_overflow", API + "CREATE.C_ORD.ovf", cc(ORD, {"priority_policy": "overflow", "priority_groups": ["g1"], "ack_policy": "explicit"}), None),
    ("priority_push", API + "CREATE.C_ORD.x1", cc(ORD, {"priority_policy": "overflow", "priority_groups": ["g1"], "deliver_subject": "dlv.p"}), None),
    ("priority_no_group", API + "CREATE.C_ORD.x1", cc(ORD, {"priority_policy": "overflow"}), None),
    ("priority_bad_group", API + "CREATE.C_ORD.x1", cc(ORD, {"priority_policy": "overflow", "priority_groups": ["bad group"]}), None),
    ("priority_empty_group", API + "CREATE.C_ORD.x1", cc(ORD, {"priority_policy": "overflow", "priority_groups": [""]}), None),
    ("priority_groups_policy_none", API + "CREATE.C_ORD.x1", cc(ORD, {"priority_groups": ["g1"]}), None),
    ("priority_ttl_policy_none", API + "CREATE.C_ORD.x1", cc(ORD, {"priority_timeout": S}), None),
    ("priority_bad_policy", API + "CREATE.C_ORD.x1", cc(ORD, {"priority_policy": "loudest"}), None),
    # actions and updates
    ("action_create_same", API + "CREATE.C_ORD.d1", cc(ORD, PULL, "create"), None),
    ("action_create_different", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, description="new"), "create"), None),
    ("action_update_missing", API + "CREATE.C_ORD.nope", cc(ORD, {"ack_policy": "explicit"}, "update"), None),
    ("action_update_ok", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, description="updated"), "update"), None),
    ("update_deliver_policy", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, deliver_policy="new")), None),
    ("update_ack_policy", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, ack_policy="all")), None),
    ("update_pull_to_push", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, deliver_subject="dlv.d1")), None),
    ("update_max_waiting", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, max_waiting=10)), None),
    ("update_mem_storage", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, mem_storage=True)), None),
    ("update_replay", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, replay_policy="original")), None),
    ("update_max_ack_pending", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, max_ack_pending=20, max_deliver=4, ack_wait=3 * S, filter_subject="corders.a")), None),
    ("update_backoff_over_max_deliver", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, backoff=[S, S, S], max_deliver=2)), None),
    ("update_push_to_pull", API + "DURABLE.CREATE.C_ORD.d2", changed("d2", deliver_subject=None), None),
    ("update_push_hb", API + "DURABLE.CREATE.C_ORD.d2", changed("d2", idle_heartbeat=S), None),
    ("update_push_fc", API + "DURABLE.CREATE.C_ORD.d2", changed("d2", flow_control=True, idle_heartbeat=None), None),
    ("update_push_new_subject", API + "DURABLE.CREATE.C_ORD.d2", changed("d2", deliver_subject="dlv.d2b"), None),
    ("update_start_seq", API + "CREATE.C_ORD.bs", changed("bs", opt_start_seq=3), None),
    ("update_start_time", API + "CREATE.C_ORD.bt", changed("bt", opt_start_time="2021-01-01T00:00:00Z"), None),
    ("update_start_time_same_instant", API + "CREATE.C_ORD.bt", changed("bt", opt_start_time="2019-12-31T22:00:00.5Z"), None),
    ("update_ephemeral_to_durable", API + "CREATE.C_ORD.e2", cc(ORD, {"name": "e2", "durable_name": "e2", "ack_policy": "explicit"}), None),
    ("update_pause_ignored", API + "CREATE.C_ORD.e2", cc(ORD, {"name": "e2", "ack_policy": "explicit", "pause_until": "2100-01-01T00:00:00Z"}), None),
    # stream consumer limits
    ("lim_defaults", API + "CREATE.C_LIM.l1", cc("C_LIM", {"durable_name": "l1", "ack_policy": "explicit"}), None),
    ("lim_ack_none", API + "CREATE.C_LIM.l2", cc("C_LIM", {"durable_name": "l2"}), None),
    ("lim_max_ack_pending_excess", API + "CREATE.C_LIM.x1", cc("C_LIM", {"ack_policy": "explicit", "max_ack_pending": 100}), None),
    ("lim_inactive_excess", API + "CREATE.C_LIM.x1", cc("C_LIM", {"ack_policy": "explicit", "inactive_threshold": 20 * S}), None),
    # work queue rules
    ("wq_pull_ack_none", API + "CREATE.C_WQ.x1", cc("C_WQ", {}), None),
    ("wq_pull_ack_all", API + "CREATE.C_WQ.x1", cc("C_WQ", {"ack_policy": "all"}), None),
    ("wq_push_ack_none", API + "CREATE.C_WQ.x1", cc("C_WQ", {"deliver_subject": "dlv.wq"}), None),
    ("wq_deliver_new", API + "CREATE.C_WQ.x1", cc("C_WQ", {"ack_policy": "explicit", "deliver_policy": "new"}), None),
    ("wq_replicas_mismatch", API + "CREATE.C_WQ.x1", cc("C_WQ", {"ack_policy": "explicit", "num_replicas": 1}), None),
    ("wq_delete_x1", API + "DELETE.C_WQ.x1", b"", None),
    ("wq_first_unfiltered", API + "CREATE.C_WQ.w1", cc("C_WQ", {"durable_name": "w1", "ack_policy": "explicit"}), None),
    ("wq_second_unfiltered", API + "CREATE.C_WQ.w2", cc("C_WQ", {"durable_name": "w2", "ack_policy": "explicit"}), None),
    ("wq_filtered_vs_unfiltered", API + "CREATE.C_WQ.w3", cc("C_WQ", {"durable_name": "w3", "ack_policy": "explicit", "filter_subject": "cwq.a"}), None),
    ("wq_same_again", API + "CREATE.C_WQ.w1", cc("C_WQ", {"durable_name": "w1", "ack_policy": "explicit"}), None),
    ("wq_delete_w1", API + "DELETE.C_WQ.w1", b"", None),
    ("wq_filtered_a", API + "CREATE.C_WQ.wa", cc("C_WQ", {"durable_name": "wa", "ack_policy": "explicit", "filter_subject": "cwq.a"}), None),
    ("wq_filtered_overlap", API + "CREATE.C_WQ.wx", cc("C_WQ", {"durable_name": "wx", "ack_policy": "explicit", "filter_subject": "cwq.*"}), None),
    ("wq_filtered_b", API + "CREATE.C_WQ.wb", cc("C_WQ", {"durable_name": "wb", "ack_policy": "explicit", "filter_subjects": ["cwq.b", "cwq.c.>"]}), None),
    ("wq_unfiltered_after_filtered", API + "CREATE.C_WQ.wu", cc("C_WQ", {"durable_name": "wu", "ack_policy": "explicit"}), None),
    ("wq_update_filter_overlap", API + "CREATE.C_WQ.wb", cc("C_WQ", {"durable_name": "wb", "ack_policy": "explicit", "filter_subject": "cwq.a"}), None),
    ("wq_update_filter_ok", API + "CREATE.C_WQ.wb", cc("C_WQ", {"durable_name": "wb", "ack_policy": "explicit", "filter_subject": "cwq.d"}), None),
    ("int_ok", API + "CREATE.C_INT.i1", cc("C_INT", {"durable_name": "i1", "ack_policy": "explicit"}), None),
    ("int_replicas_ok", API + "CREATE.C_INT.i2", cc("C_INT", {"durable_name": "i2", "num_replicas": 1}), None),
    # max consumers
    ("max_first", API + "CREATE.C_MAX.m1", cc("C_MAX", {"durable_name": "m1"}), None),
    ("max_second", API + "CREATE.C_MAX.m2", cc("C_MAX", {"durable_name": "m2"}), None),
    ("max_first_again", API + "CREATE.C_MAX.m1", cc("C_MAX", {"durable_name": "m1"}), None),
    # info
    ("info_pull_full", API + "INFO.C_ORD.pf", b"", None),
    ("info_push_full", API + "INFO.C_ORD.pushf", b"", None),
    ("info_by_seq", API + "INFO.C_ORD.bs", b"", None),
    ("info_last", API + "INFO.C_ORD.dl", b"", None),
    ("info_new", API + "INFO.C_ORD.dn", b"", None),
    ("info_lps", API + "INFO.C_ORD.lps", b"", None),
    ("info_filter_a", API + "INFO.C_ORD.f1", b"", None),
    ("info_empty_object", API + "INFO.C_ORD.d1", b"{}", None),
    ("info_null", API + "INFO.C_ORD.d1", b"null", None),
    ("info_with_body", API + "INFO.C_ORD.d1", j({"x": 1}), None),
    ("info_whitespace", API + "INFO.C_ORD.d1", b"  ", None),
    ("info_missing", API + "INFO.C_ORD.nope", b"", None),
    ("info_missing_stream", API + "INFO.NOPE.d1", b"", None),
    ("info_required_level_too_high", API + "INFO.C_ORD.d1", b"", [("Nats-Required-Api-Level", "99")]),
    # names and list
    ("names_wq", API + "NAMES.C_WQ", b"", None),
    ("names_ord_offset", API + "NAMES.C_ORD", j({"offset": 3}), None),
    ("names_offset_past_end", API + "NAMES.C_WQ", j({"offset": 100}), None),
    ("names_offset_negative", API + "NAMES.C_WQ", j({"offset": -2}), None),
    ("names_null", API + "NAMES.C_WQ", b"null", None),
    ("names_junk_body", API + "NAMES.C_WQ", b"abc", None),
    ("list_ord", API + "LIST.C_ORD", j({"offset": 20}), None),
    ("names_bad_json", API + "NAMES.C_WQ", b"{", None),
    ("names_missing_stream", API + "NAMES.NOPE", b"", None),
    ("names_empty_stream", API + "NAMES.C_MAX", j({"offset": 1}), None),
    ("list_wq", API + "LIST.C_WQ", b"", None),
    ("list_wq_offset", API + "LIST.C_WQ", j({"offset": 1}), None),
    ("list_missing_stream", API + "LIST.NOPE", b"", None),
    ("list_bad_json", API + "LIST.C_WQ", b"[", None),
    # pause
    ("pause_future", API + "PAUSE.C_ORD.d1", j({"pause_until": "2100-01-01T00:00:00Z"}), None),
    ("info_paused", API + "INFO.C_ORD.d1", b"", None),
    ("create_while_paused", API + "CREATE.C_ORD.d1", cc(ORD, dict(PULL, description="updated", max_ack_pending=20, max_deliver=4, ack_wait=3 * S, filter_subject="corders.a")), None),
    ("resume_empty", API + "PAUSE.C_ORD.d1", b"", None),
    ("info_resumed", API + "INFO.C_ORD.d1", b"", None),
    ("pause_past", API + "PAUSE.C_ORD.d1", j({"pause_until": "2000-01-01T00:00:00Z"}), None),
    ("info_pause_past", API + "INFO.C_ORD.d1", b"", None),
    ("resume_object", API + "PAUSE.C_ORD.d1", b"{}", None),
    ("pause_missing", API + "PAUSE.C_ORD.nope", j({"pause_until": "2100-01-01T00:00:00Z"}), None),
    ("pause_missing_stream", API + "PAUSE.NOPE.d1", b"", None),
    ("pause_bad_json", API + "PAUSE.C_ORD.d1", b"{", None),
    ("pause_bad_time", API + "PAUSE.C_ORD.d1", j({"pause_until": "tomorrow"}), None),
    ("pause_offset_time", API + "PAUSE.C_ORD.d1", j({"pause_until": "2100-01-01T02:00:00.25+02:00"}), None),
    ("info_pause_offset_time", API + "INFO.C_ORD.d1", b"", None),
    ("resume_null_time", API + "PAUSE.C_ORD.d1", j({"pause_until": None}), None),
    ("create_paused_offset", API + "CREATE.C_ORD.cpo", cc(ORD, {"durable_name": "cpo", "pause_until": "2100-01-01T02:00:00+02:00"}), None),
    ("create_paused", API + "CREATE.C_ORD.cp", cc(ORD, {"durable_name": "cp", "pause_until": "2100-01-01T00:00:00Z"}), None),
    ("create_pause_past", API + "CREATE.C_ORD.cpp", cc(ORD, {"durable_name": "cpp", "pause_until": "2000-01-01T00:00:00Z"}), None),
    # unpin
    ("unpin_empty_body", API + "UNPIN.C_ORD.d1", b"", None),
    ("unpin_no_group", API + "UNPIN.C_ORD.d1", b"{}", None),
    ("unpin_bad_group", API + "UNPIN.C_ORD.d1", j({"group": "bad group"}), None),
    ("unpin_unknown_group", API + "UNPIN.C_ORD.d1", j({"group": "g1"}), None),
    ("unpin_ok", API + "UNPIN.C_ORD.pin", j({"group": "g1"}), None),
    ("unpin_missing", API + "UNPIN.C_ORD.nope", j({"group": "g1"}), None),
    ("unpin_missing_stream", API + "UNPIN.NOPE.d1", j({"group": "g1"}), None),
    # delete
    ("delete_push", API + "DELETE.C_ORD.d2", b"", None),
    ("delete_again", API + "DELETE.C_ORD.d2", b"", None),
    ("delete_with_body", API + "DELETE.C_ORD.d1", j({"x": 1}), None),
    ("delete_null_body", API + "DELETE.C_ORD.d1", b"null", None),
    ("delete_empty_object", API + "DELETE.C_ORD.e3", b"{}", None),
    ("delete_missing_stream", API + "DELETE.NOPE.d1", b"", None),
    ("names_after_delete", API + "NAMES.C_ORD", b"", None),
]


LIMIT_CASES = [
    ("s_create", "$JS.API.STREAM.CREATE.L", j({"name": "L", "subjects": ["l.>"]}), None),
    ("default_max_ack_pending_from_account", API + "CREATE.L.a", cc("L", {"durable_name": "a", "ack_policy": "explicit"}), None),
    ("max_ack_pending_over_account", API + "CREATE.L.x", cc("L", {"ack_policy": "explicit", "max_ack_pending": 30}), None),
    ("max_ack_pending_over_server", API + "CREATE.L.x", cc("L", {"ack_policy": "explicit", "max_ack_pending": 150}), None),
    ("push_no_default_batch", API + "CREATE.L.p", cc("L", {"durable_name": "p", "deliver_subject": "dl.p"}), None),
    ("max_batch_over_server", API + "CREATE.L.x", cc("L", {"max_batch": 60}), None),
    ("max_batch_pedantic_unset", API + "CREATE.L.x", cc("L", {}, pedantic=True), None),
    ("max_batch_ok", API + "CREATE.L.b", cc("L", {"durable_name": "b", "max_batch": 10}), None),
    ("max_consumers_account", API + "CREATE.L.c", cc("L", {"durable_name": "c"}), None),
    ("update_within_max_consumers", API + "CREATE.L.b", cc("L", {"durable_name": "b", "max_batch": 20}), None),
    ("account_info", "$JS.API.INFO", b"", None),
]


def run(conn, cases, echo):
    out = []
    for name, subject, payload, headers in cases:
        if callable(payload):
            payload = payload(echo)
        if name.startswith("sleep_"):
            # Lets nats-server's asynchronous interest tracking catch up (push_bound).
            time.sleep(int(name[6:-2]) / 1000)
            continue
        sys.stderr.write(name + "\n")
        at_ns = time.time_ns()
        rep = conn.request(subject, payload, headers)
        if rep["status_line"] is None:
            try:
                body = json.loads(rep["payload"])
                cfg = body.get("config")
                if isinstance(cfg, dict) and "stream_name" in body:
                    echo[body["name"]] = dict(cfg)
                    STREAM_OF[body["name"]] = body["stream_name"]
            except ValueError:
                pass
        out.append({"name": name, "at_ns": at_ns, "subject": subject, "headers": headers,
                    "payload": payload.decode() if len(payload) < 10000 else "<%d bytes>" % len(payload),
                    "reply": rep})
    return out


def main():
    for cases, conf, path in [(CASES, None, OUT), (LIMIT_CASES, LIMITS_CONF, LIMITS_OUT)]:
        with nats_server(SERVER, conf) as c:
            out = run(c, cases, {})
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
        print("wrote %d captures to %s" % (len(out), path))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Capture nats-server's $JS.API and publish-ack replies as fixtures.

Runs the real nats-server (path in NATS_SERVER or argv[1]) with -js on a temp store dir,
replays CASES in order over one raw connection, and writes captures.json: a list of
{name, at_ns, subject, headers, payload, reply:{status_line, headers, payload}}; `at_ns` is
the wall clock when the request went out (the replay uses it as `now`, so duplicate windows
expire as they did here). status_line is null for a plain MSG, "timeout" when nothing came
back within 3s. Non-$JS.API subjects are JetStream publishes; their reply is the pub-ack.
Payloads are text (all our requests and replies are UTF-8).  Usage:
  python3 tests/js_api_fixtures/capture.py /work/main/.venv/bin/nats-server
"""
import contextlib, json, os, socket, subprocess, sys, tempfile, time

SERVER = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_SERVER", "nats-server")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "captures.json")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self.line()  # INFO
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1}\r\nSUB _INBOX.> 1\r\nPING\r\n')
        while self.line() != b"PONG":
            pass
        self.n = 0

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def take(self, n):
        while len(self.buf) < n + 2:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    def request(self, subject, payload=b"", headers=None):
        self.n += 1
        reply = "_INBOX.r.%d" % self.n
        if headers is None:
            self.s.sendall(b"PUB %s %s %d\r\n%s\r\n" % (subject.encode(), reply.encode(), len(payload), payload))
        else:
            hb = b"NATS/1.0\r\n" + b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers) + b"\r\n"
            self.s.sendall(b"HPUB %s %s %d %d\r\n%s%s\r\n" % (subject.encode(), reply.encode(), len(hb), len(hb) + len(payload), hb, payload))
        self.s.settimeout(3)
        while True:
            try:
                l = self.line()
            except socket.timeout:
                return {"status_line": "timeout", "headers": [], "payload": ""}
            if l == b"PING":
                self.s.sendall(b"PONG\r\n")
                continue
            parts = l.split()
            if parts[0] == b"MSG":
                return {"status_line": None, "headers": [], "payload": self.take(int(parts[-1])).decode()}
            if parts[0] == b"HMSG":
                hl, tl = int(parts[-2]), int(parts[-1])
                d = self.take(tl)
                h, p = d[:hl].decode(), d[hl:].decode()
                lines = h.split("\r\n")
                hdrs = [ln.split(": ", 1) for ln in lines[1:] if ln]
                return {"status_line": lines[0], "headers": hdrs, "payload": p}
            if parts[0] == b"-ERR":
                return {"status_line": "-ERR", "headers": [], "payload": l.decode()}


def j(o):
    return json.dumps(o).encode()


ORD = {"name": "ORDERS", "subjects": ["orders.>"]}
FULL = {
    "name": "FULL", "description": "every field", "subjects": ["full.*", "fuller.>"],
    "retention": "limits", "max_consumers": 10, "max_msgs": 1000, "max_bytes": 1048576,
    "max_age": 3600000000000, "max_msgs_per_subject": 5, "max_msg_size": 4096, "discard": "new",
    "discard_new_per_subject": True, "storage": "memory", "num_replicas": 1,
    "duplicate_window": 60000000000, "sealed": False, "deny_delete": True, "deny_purge": False,
    "allow_rollup_hdrs": True, "allow_direct": True, "mirror_direct": False,
    "compression": "none", "first_seq": 10, "metadata": {"owner": "me"}, "allow_msg_ttl": True,
    "subject_delete_marker_ttl": 1000000000, "consumer_limits": {"inactive_threshold": 5000000000, "max_ack_pending": 100},
    "no_ack": False,
}
ASYNC = {"name": "ZEROS", "max_bytes": 0, "max_msgs": 0, "max_msgs_per_subject": 0, "discard": "old",
         "retention": "limits", "max_consumers": 0, "max_age": 0, "storage": "file", "num_replicas": 0,
         "subjects": ["zeros.>"]}
KV = {"name": "KV_b", "subjects": ["$KV.b.>"], "max_msgs_per_subject": 5, "allow_direct": True,
      "allow_rollup_hdrs": True, "deny_delete": True, "discard": "new", "max_age": 0, "storage": "file",
      "num_replicas": 1, "duplicate_window": 120000000000, "max_msg_size": -1, "max_bytes": -1}

# (name, subject, payload, headers-or-None)
CASES = [
    ("info_fresh", "$JS.API.INFO", b"", None),
    ("create_minimal", "$JS.API.STREAM.CREATE.ORDERS", j(ORD), None),
    ("create_same_again", "$JS.API.STREAM.CREATE.ORDERS", j(ORD), None),
    ("create_different", "$JS.API.STREAM.CREATE.ORDERS", j({"name": "ORDERS", "subjects": ["orders.>"], "max_msgs": 5}), None),
    ("create_name_mismatch", "$JS.API.STREAM.CREATE.OTHER", j(ORD), None),
    ("create_no_name_in_body", "$JS.API.STREAM.CREATE.NONAME", j({"subjects": ["noname.>"]}), None),
    ("create_empty_body", "$JS.API.STREAM.CREATE.EMPTYB", b"", None),
    ("create_bad_json", "$JS.API.STREAM.CREATE.BAD", b"{\"name\":", None),
    ("create_bad_json_type", "$JS.API.STREAM.CREATE.BAD", b"{\"name\":\"BAD\",\"max_msgs\":\"x\"}", None),
    ("create_bad_name_star", "$JS.API.STREAM.CREATE.A*B", j({"name": "A*B"}), None),
    ("create_bad_name_gt", "$JS.API.STREAM.CREATE.A>", j({"name": "A>"}), None),
    ("create_bad_name_slash", "$JS.API.STREAM.CREATE.A/B", j({"name": "A/B"}), None),
    ("create_overlap", "$JS.API.STREAM.CREATE.OVER", j({"name": "OVER", "subjects": ["orders.new"]}), None),
    ("create_max_age_small", "$JS.API.STREAM.CREATE.AGE", j({"name": "AGE", "max_age": 50000000}), None),
    ("create_max_age_neg", "$JS.API.STREAM.CREATE.AGE", j({"name": "AGE", "max_age": -1}), None),
    ("create_dupwin_gt_age", "$JS.API.STREAM.CREATE.DW", j({"name": "DW", "max_age": 1000000000, "duplicate_window": 5000000000}), None),
    ("create_dupwin_small", "$JS.API.STREAM.CREATE.DW", j({"name": "DW", "duplicate_window": 5000000}), None),
    ("create_replicas3", "$JS.API.STREAM.CREATE.R3", j({"name": "R3", "num_replicas": 3}), None),
    ("create_replicas_neg", "$JS.API.STREAM.CREATE.RN", j({"name": "RN", "num_replicas": -1}), None),
    ("create_sealed", "$JS.API.STREAM.CREATE.SEAL", j({"name": "SEAL", "sealed": True}), None),
    ("create_purge_rollup", "$JS.API.STREAM.CREATE.PR", j({"name": "PR", "deny_purge": True, "allow_rollup_hdrs": True}), None),
    ("create_bad_subject", "$JS.API.STREAM.CREATE.BS", j({"name": "BS", "subjects": ["a..b"]}), None),
    ("create_dup_subjects", "$JS.API.STREAM.CREATE.DS", j({"name": "DS", "subjects": ["x.a", "x.a"]}), None),
    ("create_overlapping_own_subjects", "$JS.API.STREAM.CREATE.OS", j({"name": "OS", "subjects": ["y.*", "y.a"]}), None),
    ("create_full_wildcard", "$JS.API.STREAM.CREATE.FW", j({"name": "FW", "subjects": [">"]}), None),
    ("create_js_api_subject", "$JS.API.STREAM.CREATE.JSS", j({"name": "JSS", "subjects": ["$JS.API.>"]}), None),
    ("create_bad_retention", "$JS.API.STREAM.CREATE.BR", j({"name": "BR", "retention": "bogus"}), None),
    ("create_bad_storage", "$JS.API.STREAM.CREATE.BST", j({"name": "BST", "storage": "tape"}), None),
    ("create_bad_discard", "$JS.API.STREAM.CREATE.BD", j({"name": "BD", "discard": "middle"}), None),
    ("create_bad_compression", "$JS.API.STREAM.CREATE.BC", j({"name": "BC", "compression": "zip"}), None),
    ("create_dnps_without_new", "$JS.API.STREAM.CREATE.DN", j({"name": "DN", "discard_new_per_subject": True}), None),
    ("create_sdm_without_ttl", "$JS.API.STREAM.CREATE.SDM", j({"name": "SDM", "subject_delete_marker_ttl": 1000000000}), None),
    ("create_mirror", "$JS.API.STREAM.CREATE.MIR", j({"name": "MIR", "mirror": {"name": "ORDERS"}}), None),
    ("create_sources", "$JS.API.STREAM.CREATE.SRC", j({"name": "SRC", "sources": [{"name": "ORDERS"}]}), None),
    ("create_republish", "$JS.API.STREAM.CREATE.RP", j({"name": "RP", "subjects": ["rp.>"], "republish": {"src": "rp.>", "dest": "out.>"}}), None),
    ("create_transform", "$JS.API.STREAM.CREATE.TR", j({"name": "TR", "subjects": ["tr.>"], "subject_transform": {"src": "tr.>", "dest": "moved.>"}}), None),
    ("create_placement", "$JS.API.STREAM.CREATE.PL", j({"name": "PL", "placement": {"cluster": "c1"}}), None),
    ("create_counter", "$JS.API.STREAM.CREATE.CNT", j({"name": "CNT", "allow_msg_counter": True}), None),
    ("create_atomic", "$JS.API.STREAM.CREATE.ATM", j({"name": "ATM", "allow_atomic": True}), None),
    ("create_schedules", "$JS.API.STREAM.CREATE.SCH", j({"name": "SCH", "allow_msg_schedules": True}), None),
    ("create_full", "$JS.API.STREAM.CREATE.FULL", j(FULL), None),
    ("create_async_zeros", "$JS.API.STREAM.CREATE.ZEROS", j(ASYNC), None),
    ("create_kv", "$JS.API.STREAM.CREATE.KV_b", j(KV), None),
    ("create_nosubjects", "$JS.API.STREAM.CREATE.NOSUBJ", j({"name": "NOSUBJ"}), None),
    ("create_workqueue", "$JS.API.STREAM.CREATE.WQ", j({"name": "WQ", "subjects": ["wq.>"], "retention": "workqueue"}), None),
    ("info_orders_empty", "$JS.API.STREAM.INFO.ORDERS", b"", None),
    ("info_orders_null", "$JS.API.STREAM.INFO.ORDERS", b"null", None),
    ("info_missing", "$JS.API.STREAM.INFO.NOPE", b"", None),
    ("pub_1", "orders.new", b"hello", None),
    ("pub_2_hdr_empty", "orders.new", b"world", []),
    ("pub_3_other_subject", "orders.old", b"x", None),
    ("pub_msgid", "orders.new", b"d1", [("Nats-Msg-Id", "id-1")]),
    ("pub_msgid_dup", "orders.new", b"d1", [("Nats-Msg-Id", "id-1")]),
    ("pub_expected_stream_ok", "orders.new", b"e", [("Nats-Expected-Stream", "ORDERS")]),
    ("pub_expected_stream_bad", "orders.new", b"e", [("Nats-Expected-Stream", "OTHER")]),
    ("pub_expected_last_seq_bad", "orders.new", b"e", [("Nats-Expected-Last-Sequence", "2")]),
    ("pub_expected_last_seq_ok", "orders.new", b"e", [("Nats-Expected-Last-Sequence", "5")]),
    ("pub_expected_last_subj_seq_bad", "orders.old", b"e", [("Nats-Expected-Last-Subject-Sequence", "1")]),
    ("pub_expected_last_subj_seq_ok", "orders.old", b"e", [("Nats-Expected-Last-Subject-Sequence", "3")]),
    ("pub_expected_last_subj_seq_zero_new", "orders.brandnew", b"e", [("Nats-Expected-Last-Subject-Sequence", "0")]),
    ("pub_expected_last_subj_seq_zero_bad", "orders.new", b"e", [("Nats-Expected-Last-Subject-Sequence", "0")]),
    ("pub_expected_last_msgid_bad", "orders.new", b"e", [("Nats-Expected-Last-Msg-Id", "nope")]),
    ("pub_msgid2", "orders.new", b"m2", [("Nats-Msg-Id", "id-2")]),
    ("pub_expected_last_msgid_ok", "orders.new", b"e", [("Nats-Expected-Last-Msg-Id", "id-2")]),
    ("pub_expected_last_msgid_bad2", "orders.new", b"e", [("Nats-Expected-Last-Msg-Id", "id-2")]),
    ("pub_rollup_not_allowed", "orders.new", b"r", [("Nats-Rollup", "sub")]),
    ("pub_ttl_not_allowed", "orders.new", b"t", [("Nats-TTL", "5s")]),
    ("pub_bad_last_seq_header", "orders.new", b"e", [("Nats-Expected-Last-Sequence", "abc")]),
    ("info_orders_after_pubs", "$JS.API.STREAM.INFO.ORDERS", b"", None),
    ("info_orders_subjects_filter", "$JS.API.STREAM.INFO.ORDERS", j({"subjects_filter": "orders.>"}), None),
    ("msg_get_seq1", "$JS.API.STREAM.MSG.GET.ORDERS", j({"seq": 1}), None),
    ("msg_get_seq2_hdrs", "$JS.API.STREAM.MSG.GET.ORDERS", j({"seq": 2}), None),
    ("msg_get_last_by_subj", "$JS.API.STREAM.MSG.GET.ORDERS", j({"last_by_subj": "orders.old"}), None),
    ("msg_get_next_by_subj", "$JS.API.STREAM.MSG.GET.ORDERS", j({"seq": 2, "next_by_subj": "orders.old"}), None),
    ("msg_get_missing", "$JS.API.STREAM.MSG.GET.ORDERS", j({"seq": 999}), None),
    ("msg_get_empty", "$JS.API.STREAM.MSG.GET.ORDERS", b"", None),
    ("msg_get_both", "$JS.API.STREAM.MSG.GET.ORDERS", j({"seq": 1, "last_by_subj": "orders.old"}), None),
    ("msg_get_stream_missing", "$JS.API.STREAM.MSG.GET.NOPE", j({"seq": 1}), None),
    ("msg_delete_3", "$JS.API.STREAM.MSG.DELETE.ORDERS", j({"seq": 3}), None),
    ("msg_delete_3_again", "$JS.API.STREAM.MSG.DELETE.ORDERS", j({"seq": 3}), None),
    ("msg_delete_noerase", "$JS.API.STREAM.MSG.DELETE.ORDERS", j({"seq": 4, "no_erase": True}), None),
    ("msg_delete_empty", "$JS.API.STREAM.MSG.DELETE.ORDERS", b"", None),
    ("info_orders_deleted_details", "$JS.API.STREAM.INFO.ORDERS", j({"deleted_details": True}), None),
    ("direct_get_not_allowed", "$JS.API.DIRECT.GET.ORDERS", j({"seq": 1}), None),
    ("kv_put_k1", "$KV.b.k1", b"v1", None),
    ("kv_put_k2", "$KV.b.k2", b"v2", [("KV-Operation", "PUT")]),
    ("kv_update_k1_bad", "$KV.b.k1", b"v1b", [("Nats-Expected-Last-Subject-Sequence", "7")]),
    ("kv_purge_k2", "$KV.b.k2", b"", [("KV-Operation", "PURGE"), ("Nats-Rollup", "sub")]),
    ("direct_get_seq1", "$JS.API.DIRECT.GET.KV_b", j({"seq": 1}), None),
    ("direct_get_last_by_subj_body", "$JS.API.DIRECT.GET.KV_b", j({"last_by_subj": "$KV.b.k2"}), None),
    ("direct_get_subject_form", "$JS.API.DIRECT.GET.KV_b.$KV.b.k1", b"", None),
    ("direct_get_subject_form_miss", "$JS.API.DIRECT.GET.KV_b.$KV.b.nokey", b"", None),
    ("direct_get_seq_miss", "$JS.API.DIRECT.GET.KV_b", j({"seq": 99}), None),
    ("direct_get_empty", "$JS.API.DIRECT.GET.KV_b", b"", None),
    ("direct_get_bad_json", "$JS.API.DIRECT.GET.KV_b", b"{x", None),
    ("direct_get_both", "$JS.API.DIRECT.GET.KV_b", j({"seq": 1, "last_by_subj": "$KV.b.k1"}), None),
    ("full_pub_too_big", "full.a", b"x" * 5000, None),
    ("full_pub_1", "full.a", b"x", None),
    ("full_pub_ttl", "full.a", b"x", [("Nats-TTL", "10s")]),
    ("full_pub_ttl_bad", "full.a", b"x", [("Nats-TTL", "soon")]),
    ("full_pub_rollup_all", "full.b", b"x", [("Nats-Rollup", "all")]),
    ("full_pub_rollup_bad", "full.b", b"x", [("Nats-Rollup", "some")]),
    ("info_full", "$JS.API.STREAM.INFO.FULL", b"", None),
    ("update_orders_echo", "$JS.API.STREAM.UPDATE.ORDERS", None, None),  # payload filled from create echo
    ("update_orders_change_storage", "$JS.API.STREAM.UPDATE.ORDERS", j({"name": "ORDERS", "subjects": ["orders.>"], "storage": "memory"}), None),
    ("update_orders_max_msgs", "$JS.API.STREAM.UPDATE.ORDERS", j({"name": "ORDERS", "subjects": ["orders.>"], "max_msgs": 100}), None),
    ("update_orders_to_wq", "$JS.API.STREAM.UPDATE.ORDERS", j({"name": "ORDERS", "subjects": ["orders.>"], "retention": "workqueue"}), None),
    ("update_full_undeny_delete", "$JS.API.STREAM.UPDATE.FULL", None, None),  # FULL echo with deny_delete false
    ("update_missing", "$JS.API.STREAM.UPDATE.NOPE", j({"name": "NOPE"}), None),
    ("update_name_mismatch", "$JS.API.STREAM.UPDATE.ORDERS", j({"name": "OTHER"}), None),
    ("update_overlap", "$JS.API.STREAM.UPDATE.ZEROS", j({"name": "ZEROS", "subjects": ["orders.x"]}), None),
    ("names", "$JS.API.STREAM.NAMES", b"", None),
    ("names_filter", "$JS.API.STREAM.NAMES", j({"subject": "orders.new"}), None),
    ("names_filter_null", "$JS.API.STREAM.NAMES", j({"offset": 0, "subject": None}), None),
    ("names_filter_none", "$JS.API.STREAM.NAMES", j({"subject": "zzz.none"}), None),
    ("names_offset", "$JS.API.STREAM.NAMES", j({"offset": 3}), None),
    ("list_filter", "$JS.API.STREAM.LIST", j({"subject": "orders.new"}), None),
    ("list_filter_none", "$JS.API.STREAM.LIST", j({"subject": "zzz.none"}), None),
    ("purge_seq_keep", "$JS.API.STREAM.PURGE.ORDERS", j({"seq": 3, "keep": 1}), None),
    ("purge_filter", "$JS.API.STREAM.PURGE.ORDERS", j({"filter": "orders.old"}), None),
    ("purge_keep", "$JS.API.STREAM.PURGE.ORDERS", j({"keep": 2}), None),
    ("purge_seq", "$JS.API.STREAM.PURGE.ORDERS", j({"seq": 9}), None),
    ("purge_all", "$JS.API.STREAM.PURGE.ORDERS", b"", None),
    ("purge_deny", "$JS.API.STREAM.PURGE.PR2", b"", None),
    ("info_orders_after_purge", "$JS.API.STREAM.INFO.ORDERS", b"", None),
    ("purge_missing", "$JS.API.STREAM.PURGE.NOPE", b"", None),
    ("delete_with_body", "$JS.API.STREAM.DELETE.ZEROS", j({"x": 1}), None),
    ("delete_zeros", "$JS.API.STREAM.DELETE.ZEROS", b"{}", None),
    ("delete_missing", "$JS.API.STREAM.DELETE.ZEROS", b"", None),
    ("info_account_after", "$JS.API.INFO", b"", None),
    ("unknown_api", "$JS.API.STREAM.FROB.ORDERS", b"", None),
    ("consumer_info_missing_stream", "$JS.API.CONSUMER.INFO.NOPE.c1", b"", None),
    ("consumer_info_missing", "$JS.API.CONSUMER.INFO.ORDERS.c1", b"", None),
    ("consumer_names", "$JS.API.CONSUMER.NAMES.ORDERS", b"", None),
    ("info_bad_name", "$JS.API.STREAM.INFO.A*B", b"", None),
    ("create_pedantic_dupwin", "$JS.API.STREAM.CREATE.PED", j({"name": "PED", "max_age": 1000000000, "pedantic": True}), None),
    ("create_pedantic_ok", "$JS.API.STREAM.CREATE.PED2", j({"name": "PED2", "max_msgs": -5}), None),
    ("create_limits", "$JS.API.STREAM.CREATE.LIM", j({"name": "LIM", "subjects": ["lim.*"], "max_msgs": 2, "discard": "new", "duplicate_window": 300000000}), None),
    ("lim_pub_1", "lim.a", b"1", [("Nats-Msg-Id", "L1")]),
    ("lim_pub_2", "lim.b", b"2", None),
    ("lim_pub_3_full", "lim.c", b"3", None),
    ("lim_pub_dup_in_window", "lim.a", b"1", [("Nats-Msg-Id", "L1")]),
    ("sleep_400ms", "", b"", None),
    ("lim_purge_1", "$JS.API.STREAM.PURGE.LIM", j({"filter": "lim.b"}), None),
    ("lim_pub_dup_after_window", "lim.a", b"1", [("Nats-Msg-Id", "L1")]),
    ("create_perseq", "$JS.API.STREAM.CREATE.PS", j({"name": "PS", "subjects": ["ps.*"], "max_msgs_per_subject": 1, "discard": "new", "discard_new_per_subject": True}), None),
    ("ps_pub_1", "ps.a", b"1", None),
    ("ps_pub_2_full", "ps.a", b"2", None),
    ("ps_pub_other", "ps.b", b"2", None),
    ("ps_expected_subject_override_ok", "ps.c", b"x", [("Nats-Expected-Last-Subject-Sequence", "2"), ("Nats-Expected-Last-Subject-Sequence-Subject", "ps.b")]),
    ("ps_expected_subject_override_bad", "ps.d", b"x", [("Nats-Expected-Last-Subject-Sequence", "1"), ("Nats-Expected-Last-Subject-Sequence-Subject", "ps.*")]),
    ("ps_expected_subject_only_subject", "ps.e", b"x", [("Nats-Expected-Last-Subject-Sequence-Subject", "ps.b")]),
    ("ps_info_subjects_offset", "$JS.API.STREAM.INFO.PS", j({"subjects_filter": ">", "offset": 1}), None),
    ("kv_msg_delete_denied", "$JS.API.STREAM.MSG.DELETE.KV_b", j({"seq": 1}), None),
    ("direct_get_next_by_subj", "$JS.API.DIRECT.GET.KV_b", j({"seq": 1, "next_by_subj": "$KV.b.>"}), None),
    ("direct_get_last_wild_subject_form", "$JS.API.DIRECT.GET.KV_b.$KV.b.*", b"", None),
    ("direct_get_missing_stream", "$JS.API.DIRECT.GET.NOPE", j({"seq": 1}), None),
    ("msg_get_batch", "$JS.API.STREAM.MSG.GET.KV_b", j({"seq": 1, "batch": 2}), None),
    ("msg_get_kv_purge_marker", "$JS.API.STREAM.MSG.GET.KV_b", j({"last_by_subj": "$KV.b.k2"}), None),
    ("seal_ps", "$JS.API.STREAM.UPDATE.PS", None, None),
    ("sealed_pub", "ps.z", b"x", None),
    ("sealed_purge", "$JS.API.STREAM.PURGE.PS", b"", None),
    ("sealed_msg_delete", "$JS.API.STREAM.MSG.DELETE.PS", j({"seq": 1}), None),
    ("sealed_unseal", "$JS.API.STREAM.UPDATE.PS", None, None),
    ("update_bad_json", "$JS.API.STREAM.UPDATE.PS", b"[", None),
    ("names_bad_json", "$JS.API.STREAM.NAMES", b"{", None),
    ("info_bad_json", "$JS.API.STREAM.INFO.PS", b"{", None),
    ("delete_null", "$JS.API.STREAM.DELETE.PED2", b"null", None),
    ("consumer_names_missing_stream", "$JS.API.CONSUMER.NAMES.NOPE", b"", None),
    ("consumer_create_missing_stream", "$JS.API.CONSUMER.CREATE.NOPE.c1", j({"stream_name": "NOPE", "config": {"name": "c1"}}), None),
    ("info_required_level_too_high", "$JS.API.STREAM.INFO.ORDERS", b"", [("Nats-Required-Api-Level", "99")]),
    ("names_required_level_bad", "$JS.API.STREAM.NAMES", b"", [("Nats-Required-Api-Level", "x")]),
    ("purge_required_level_ok", "$JS.API.STREAM.PURGE.NOPE", b"", [("Nats-Required-Api-Level", "1")]),
    ("direct_get_required_level_too_high", "$JS.API.DIRECT.GET.KV_b", j({"seq": 1}), [("Nats-Required-Api-Level", "99")]),
    ("msg_get_start_time_past", "$JS.API.STREAM.MSG.GET.KV_b", j({"start_time": "2000-01-01T00:00:00Z"}), None),
    ("msg_get_start_time_future", "$JS.API.STREAM.MSG.GET.KV_b", j({"start_time": "2100-01-01T00:00:00Z"}), None),
    ("msg_get_start_time_next", "$JS.API.STREAM.MSG.GET.KV_b", j({"start_time": "2000-01-01T00:00:00Z", "next_by_subj": "$KV.b.k2"}), None),
    ("msg_get_start_time_and_seq", "$JS.API.STREAM.MSG.GET.KV_b", j({"start_time": "2000-01-01T00:00:00Z", "seq": 2}), None),
    ("msg_get_start_time_bad", "$JS.API.STREAM.MSG.GET.KV_b", j({"start_time": "yesterday"}), None),
    ("direct_get_start_time", "$JS.API.DIRECT.GET.KV_b", j({"start_time": "2000-01-01T00:00:00Z"}), None),
    ("info_account_end", "$JS.API.INFO", b"", None),
    ("create_long_name", "$JS.API.STREAM.CREATE." + "L" * 300, j({"name": "L" * 300}), None),
    ("create_oversized", "$JS.API.STREAM.CREATE.BIG", j({"name": "BIG", "description": "d" * 200000}), None),
]


@contextlib.contextmanager
def nats_server(server, conf=None):
    """nats-server -js on a temp store dir and a free port (with the config text `conf` if
    given), up and accepting; yields a Conn."""
    tmp = tempfile.mkdtemp()
    port = free_port()
    args = [server, "-js", "-sd", tmp, "-p", str(port), "-a", "127.0.0.1"]
    if conf is not None:
        path = os.path.join(tmp, "server.conf")
        with open(path, "w") as f:
            f.write(conf)
        args += ["-c", path]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        yield Conn(port)
    finally:
        proc.terminate()
        proc.wait()


def main():
    with nats_server(SERVER) as c:
        out, echoes = [], {}
        for name, subject, payload, headers in CASES:
            if name == "update_orders_echo":
                payload = j(echoes["ORDERS"])
            if name == "update_full_undeny_delete":
                cfg = dict(echoes["FULL"]); cfg["deny_delete"] = False
                payload = j(cfg)
            if name == "sleep_400ms":
                time.sleep(0.4)
                continue
            if name == "seal_ps":
                cfg = dict(echoes["PS"]); cfg["sealed"] = True
                payload = j(cfg)
            if name == "sealed_unseal":
                cfg = dict(echoes["PS"]); cfg["sealed"] = False
                payload = j(cfg)
            if name == "purge_deny":
                c.request("$JS.API.STREAM.CREATE.PR2", j({"name": "PR2", "deny_purge": True}))
            sys.stderr.write(name + "\n")
            at_ns = time.time_ns()
            rep = c.request(subject, payload, headers)
            if name.startswith("create_") and rep["status_line"] is None:
                try:
                    body = json.loads(rep["payload"])
                    if "config" in body:
                        echoes.setdefault(body["config"]["name"], body["config"])
                except ValueError:
                    pass
            out.append({"name": name, "at_ns": at_ns, "subject": subject, "headers": headers,
                        "payload": payload.decode() if len(payload) < 10000 else "<%d bytes>" % len(payload),
                        "reply": rep})
        with open(OUT, "w") as f:
            json.dump(out, f, indent=1)
        print("wrote %d captures to %s" % (len(out), OUT))


if __name__ == "__main__":
    main()

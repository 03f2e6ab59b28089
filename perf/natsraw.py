"""What the perf scripts share: free ports, /proc figures, and a raw NATS client.

The scripts import it by name (`python3 perf/<script>.py` puts perf/ on the path).
"""
import json, os, socket, time

CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc=None, within_s=15):
    """Waits until 127.0.0.1:port takes a connection (one probe connection, closed at
    once: on natrix it takes one connection id); fails if `proc` exits first."""
    deadline = time.time() + within_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            if (proc is not None and proc.poll() is not None) or time.time() > deadline:
                raise RuntimeError(f"nothing listens on port {port}")
            time.sleep(0.05)


def cpu_s(pid):
    """User plus system CPU seconds of a process."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / CLK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Conn:
    """A raw client on 127.0.0.1:`port` with headers on, subscribed to `<inbox>.>` (SID 1)
    unless `inbox` is None."""

    def __init__(self, port, inbox="_R"):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.inbox = inbox
        self.n = 0
        self.line()  # INFO
        sub = f"SUB {inbox}.> 1\r\n".encode() if inbox else b""
        self.s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\n' + sub + b"PING\r\n")
        while self.line() != b"PONG":
            pass

    def fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def take(self, n):
        """`n` payload bytes and the CRLF after them."""
        while len(self.buf) < n + 2:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n + 2 :]
        return d

    def msg(self):
        """The next MSG: (subject, payload); PINGs are answered."""
        while True:
            l = self.line()
            if l == b"PING":
                self.s.sendall(b"PONG\r\n")
            elif l.startswith(b"MSG "):
                p = l.split()
                return p[1].decode(), self.take(int(p[-1]))

    def request(self, subj, body):
        """Publishes JSON `body` (None: empty) with a fresh reply subject; its JSON answer."""
        self.n += 1
        reply = f"{self.inbox}.{self.n}"
        b = json.dumps(body).encode() if body is not None else b""
        self.s.sendall(f"PUB {subj} {reply} {len(b)}\r\n".encode() + b + b"\r\n")
        while True:
            subject, d = self.msg()
            if subject == reply:
                return json.loads(d)

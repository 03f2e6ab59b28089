import socket, time, sys
def conn(name, port=14567, extra=''):
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(4096)
    s.sendall(('CONNECT {"verbose":false,"pedantic":false,"name":"%s","lang":"python","version":"9.9.9","protocol":1,"headers":true%s}\r\n' % (name, extra)).encode())
    return s
a = conn("alpha<&>")
a.sendall(b"SUB foo 1\r\nSUB bar.* workers 2\r\nSUB baz 3\r\nUNSUB 3 5\r\nSUB foo.> 4\r\nPING\r\n")
b = conn("beta")
b.sendall(b"SUB foo 1\r\nPUB foo 5\r\nhello\r\nPUB bar.x 3\r\nabc\r\nPING\r\n")
c = conn("gamma")
c.sendall(b"SUB zzz 7\r\nSUB q.> qq 8\r\nPING\r\n")
d = conn("auth", 14568, ',"user":"alice","pass":"secret"')
d.sendall(b"SUB x 1\r\nPING\r\n")
e = conn("authclosed", 14568, ',"user":"alice","pass":"secret"')
e.sendall(b"SUB y 1\r\nPING\r\n")
time.sleep(0.3)
c.close(); e.close()
time.sleep(1000)

# Accept one connection on port 5001 and read it to the end; gone after 140 s whatever happens.
import socket

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001))
s.listen(1)
s.settimeout(140)
conn, _addr = s.accept()
conn.settimeout(140)
while conn.recv(65536):
    pass

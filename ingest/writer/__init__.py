"""The SQLite group commit in a process of its own, shared by every worker of `optiview serve`.

protocol.py frames and codes the messages, server.py is the writer process, client.py the
worker's side of it (RemoteWriter, the interface of GroupCommitWriter), supervisor.py starts
it for `serve`, watches it and restarts it.
"""

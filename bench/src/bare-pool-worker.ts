// A worker of the benches' bare pool (bare-pool.ts): a child process that runs the same no-op
// as the benches' `noop` op, called over the IPC channel (advanced serialization). Each
// message `{ id, i }` is answered with `{ id, value }` once the no-op has resolved. Exits when the
// channel closes (the bench is done or gone).
const noop = async (i: number) => i;

interface Call {
  id: number;
  i: number;
}

const send = process.send?.bind(process);
if (!send) throw new Error('bare-pool-worker must be started with an IPC channel (child_process.fork)');

process.on('message', (message: Call) => {
  void noop(message.i).then((value) => send({ id: message.id, value }));
});
process.on('disconnect', () => process.exit(0));
send({ ready: true });

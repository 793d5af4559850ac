// Child process of the embedded DynamoDB-API server (dynalite), so that it does not share the
// broker's event loop. Started by embedded.ts; prints one JSON line with its port when listening;
// exits when its parent goes away (stdin closes), even if the parent was killed with SIGKILL.
'use strict';
const dynalite = require('dynalite');

const [, , host = '127.0.0.1', portArg = '4567', dataPath = ''] = process.argv;
const server = dynalite({
  path: dataPath || undefined,
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}

server.on('error', (err) => {
  process.stdout.write(JSON.stringify({ error: err.code || err.message }) + '\n');
  process.exit(1);
});
server.listen(Number(portArg), host, () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// Starts the fauxqs S3-compatible test server bound to 127.0.0.1 only. fauxqs' own command line always listens on
// 0.0.0.0, so this launcher rewrites the host of every listen() call before importing it.
// usage: node fauxqs-local.mjs PORT DATA_DIR
import net from "node:net";

const port = Number(process.argv[2] ?? "4566");
const dataDir = process.argv[3];
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args.length > 0 && typeof args[0] === "object" && args[0] !== null) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  } else if (typeof args[0] === "number") {
    if (typeof args[1] === "string") {
      args[1] = "127.0.0.1";
    } else {
      args.splice(1, 0, "127.0.0.1");
    }
  }
  return listen.apply(this, args);
};

const { startFauxqs } = await import("fauxqs");
const server = await startFauxqs({ port, logger: false, ...(dataDir ? { s3StorageDir: dataDir } : {}) });
console.log(`fauxqs listening on ${server.address ?? `127.0.0.1:${port}`}`);
process.on("SIGTERM", async () => { await server.stop(); process.exit(0); });

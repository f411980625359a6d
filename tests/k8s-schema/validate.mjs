// Validates rendered Kubernetes manifests (multi-document YAML on stdin) against the Kubernetes and KEDA schemas,
// offline: npm kubernetes-models and @kubernetes-models/keda (pinned in package.json). Prints one line per object,
// "ok KIND/NAME" or "invalid KIND/NAME: reason", and exits 1 if any object is invalid or of a kind it cannot check.
import { parseAllDocuments } from "yaml";

const text = await new Promise((resolve) => {
  let data = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (data += chunk));
  process.stdin.on("end", () => resolve(data));
});

// apiVersion + kind -> the module that models it: core types live at kubernetes-models/v1/KIND, grouped ones at
// kubernetes-models/GROUP/VERSION/KIND, KEDA's at @kubernetes-models/keda/keda.sh/VERSION/KIND.
function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "keda.sh") return `@kubernetes-models/keda/keda.sh/${version}/${kind}`;
  return group === "" ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
}

let failed = 0;
for (const doc of parseAllDocuments(text)) {
  if (doc.errors.length > 0) {
    console.log(`invalid YAML: ${doc.errors[0].message}`);
    failed++;
    continue;
  }
  const object = doc.toJS();
  if (object === null) continue;
  const id = `${object.kind}/${object.metadata?.name}`;
  try {
    const model = await import(modulePath(object.apiVersion, object.kind));
    const Model = model[object.kind] ?? model.default;
    new Model(object).validate();
    console.log(`ok ${id}`);
  } catch (error) {
    console.log(`invalid ${id}: ${String(error.message ?? error).split("\n").slice(0, 3).join(" ")}`);
    failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);

// Copies what the workspace serves from the installed nhsuk-frontend package into static/
// (git-ignored): its compiled CSS and JS and its images. Run by scripts/bootstrap after
// `npm ci`; no dependencies beyond Node itself.
//
// The package's CSS loads the Frutiger web font from assets.nhs.uk; those @font-face rules
// are left out, so the pages make no request outside the service (they work offline, and
// the font stack falls back to Arial as the NHS.UK frontend intends when the font is absent).
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "node_modules", "nhsuk-frontend", "dist", "nhsuk");
const out = join(here, "static");
const { version } = JSON.parse(
  readFileSync(join(here, "node_modules", "nhsuk-frontend", "package.json"), "utf8"));

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "nhsuk"), { recursive: true });
const css = readFileSync(join(dist, "nhsuk-frontend.min.css"), "utf8")
  .replace(/@font-face\{[^}]*https?:\/\/[^}]*\}/g, "");
if (css.includes("https://")) {
  throw new Error("nhsuk-frontend's CSS still loads something from another host");
}
writeFileSync(join(out, "nhsuk", "nhsuk-frontend.min.css"), css);
cpSync(join(dist, "nhsuk-frontend.min.js"), join(out, "nhsuk", "nhsuk-frontend.min.js"));
cpSync(join(dist, "assets"), join(out, "assets"), { recursive: true });
writeFileSync(join(out, "VERSION"), `nhsuk-frontend ${version}\n`);
console.log(`service/web/static: nhsuk-frontend ${version}`);

// The admin portal in a real browser: Debian's headless chromium driven by
// playwright-core (package.json; no browser download).  Launched by
// tests/blackbox/test_portal_browser.py with, in the environment:
//   PORTAL_URL       https://127.0.0.1:PORT (the stack's HTTPS listener)
//   PORTAL_TENANT, PORTAL_NAME, PORTAL_PASSWORD   an operator
//   PORTAL_PREFIX    a device-id prefix of this run's own
//   PORTAL_CSV       a CSV file of ids to import (a header line, then ids)
//   PORTAL_EXPECT_ADDED  how many of them are good (the rest must fail)
//   PORTAL_SHOTS     where the screenshots go
//   PORTAL_EXPECT_WEEKS  the expiry chart's non-zero weeks, "week:count,..."
// Exits non-zero on the first failed expectation (after a screenshot).
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const env = (k) => {
	const v = process.env[k];
	if (!v) throw new Error(`${k} is not set`);
	return v;
};
const base = env("PORTAL_URL");
const tenant = env("PORTAL_TENANT");
const name = env("PORTAL_NAME");
const password = env("PORTAL_PASSWORD");
const prefix = env("PORTAL_PREFIX");
const csv = env("PORTAL_CSV");
const shots = env("PORTAL_SHOTS");
fs.mkdirSync(shots, { recursive: true });

let step = 0;
function expect(cond, what) {
	if (!cond) throw new Error("expectation failed: " + what);
	console.log("ok - " + what);
}

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
	args: ["--no-sandbox"],
});
const context = await browser.newContext({ ignoreHTTPSErrors: true });
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (m) => {
	// A refused request (401, 403) is logged by the browser itself.
	if (m.type() === "error" && !/Failed to load resource/.test(m.text()))
		consoleErrors.push(m.text());
});
page.on("pageerror", (e) => consoleErrors.push(String(e)));
const shot = async (label) => {
	const f = path.join(shots, `${String(++step).padStart(2, "0")}-${label}.png`);
	await page.screenshot({ path: f, fullPage: true });
	console.log("screenshot " + f);
};

async function login(pw) {
	await page.fill("#login-tenant", tenant);
	await page.fill("#login-name", name);
	await page.fill("#login-password", pw);
	await page.click("#login-submit");
}

let rc = 0;
try {
	await page.goto(base + "/admin/");
	await page.waitForSelector("#login-view:not([hidden])");
	await shot("login");

	// A wrong password: an error, no session.
	await login("not the password at all");
	await page.waitForSelector("#login-error:not([hidden])");
	const err = await page.textContent("#login-error");
	expect(/wrong|password/i.test(err), `a wrong password is refused ("${err}")`);
	expect(await page.isHidden("#app-view"), "no app view after a wrong password");
	await shot("wrong-password");

	// The right one.
	await login(password);
	await page.waitForSelector("#app-view:not([hidden])");
	expect((await page.textContent("#whoami")).includes(name), "logged in as the operator");
	const cookies = await context.cookies(base + "/admin/");
	const c = cookies.find((x) => x.name === "fp_admin");
	expect(c && c.httpOnly && c.secure && c.sameSite === "Strict" && c.path === "/admin",
		`the session cookie is HttpOnly, Secure, SameSite=Strict, Path=/admin (${JSON.stringify(c && { ...c, value: "…" })})`);
	expect(await page.evaluate(() => !document.cookie.includes("fp_admin")),
		"the page's script cannot read the session cookie");
	await page.waitForSelector("#expiry-svg");
	await shot("dashboard");

	// A CSRF attempt: a state change without the token is refused.
	const csrf = await page.evaluate(async () => {
		const r = await fetch("/admin/api/devices", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ deviceId: "csrf-attempt-1" }),
		});
		return { status: r.status, body: await r.json() };
	});
	expect(csrf.status === 403 && /CSRF/i.test(csrf.body.message),
		`a POST without X-CSRF-Token is refused (${csrf.status} ${csrf.body.message})`);

	// Create a device and read its secret.
	await page.click("#nav-devices");
	await page.waitForSelector("#devices:not([hidden])");
	const dev = prefix + "-one";
	await page.fill("#create-id", dev);
	await page.click("#create-submit");
	await page.waitForSelector("#create-result:not([hidden])");
	const secret = (await page.textContent("#created-secret")).trim();
	expect(/^[A-Za-z0-9]{32}$/.test(secret), "the new device's secret is shown once");
	await shot("device-created");

	// See it listed (search by prefix).
	await page.fill("#search-prefix", prefix);
	await page.click("#search-submit");
	await page.waitForSelector(`#device-table tr[data-device="${dev}"]`);
	expect(true, "the device is listed");
	await shot("device-listed");

	// Import a CSV: progress, per-row failures, the secrets to save.
	await page.click("#nav-import");
	await page.waitForSelector("#import:not([hidden])");
	await page.setInputFiles("#import-file", csv);
	await page.click("#import-start");
	await page.waitForFunction(() => /^Done/.test(document.getElementById("import-status").textContent));
	const status = await page.textContent("#import-status");
	const lines = fs.readFileSync(csv, "utf8").trim().split(/\r?\n/).slice(1);
	const good = Number(env("PORTAL_EXPECT_ADDED"));
	const bad = lines.length - good;
	expect(status.includes(`${good} added`) && status.includes(`${bad} failed`),
		`the import reports its rows ("${status}")`);
	const progress = await page.evaluate(() => {
		const p = document.getElementById("import-progress");
		return [p.value, p.max];
	});
	expect(progress[0] === progress[1] && progress[1] === lines.length, "the progress bar is full");
	expect((await page.locator("#import-failures tbody tr").count()) === bad,
		"each failed row is listed with its reason");
	expect(await page.isVisible("#import-download"), "the id,secret CSV is offered");
	await shot("import");

	// Open the device, disable it.
	// (The import's ids sort before it: search for it by its own id.)
	await page.click("#nav-devices");
	await page.fill("#search-prefix", dev);
	await page.click("#search-submit");
	await page.click(`#device-table tr[data-device="${dev}"] a`);
	await page.waitForSelector("#device-detail:not([hidden])");
	expect((await page.textContent("#detail-id")) === dev, "the device opens");
	expect((await page.textContent("#detail-state")) === "pending", "its state is pending");
	await page.click("#detail-disable");
	await page.waitForFunction(() => document.getElementById("detail-state").textContent === "disabled");
	expect(await page.isDisabled("#detail-disable"), "the device is disabled");
	await shot("device-disabled");

	// The expiry chart: 13 weekly bars drawn in the page.
	await page.click("#nav-dashboard");
	await page.waitForSelector("#expiry-svg rect.bar", { state: "attached" });
	const bars = await page.$$eval("#expiry-svg rect.bar", (rs) =>
		rs.map((r) => [Number(r.dataset.week), Number(r.dataset.count), Number(r.getAttribute("height"))]));
	expect(bars.length === 13, `the expiry chart has 13 weekly bars (${bars.length})`);
	// PORTAL_EXPECT_WEEKS "2:3,10:1": week 2 has 3 expiries, week 10 one, the rest none.
	const want = new Map(env("PORTAL_EXPECT_WEEKS").split(",").map((p) => p.split(":").map(Number)));
	for (const [week, count, height] of bars)
		expect(count === (want.get(week) || 0) && (count > 0) === (height > 0),
			`week ${week}: ${count} expiring, bar height ${height.toFixed(1)}`);
	const tallest = bars.reduce((a, b) => (b[1] > a[1] ? b : a));
	expect(bars.every((b) => b[2] <= tallest[2]), "the busiest week has the tallest bar");
	const disabled = await page.textContent('#state-counts td[data-state="disabled"]');
	expect(Number(disabled) >= 1, "the dashboard counts the disabled device");
	await shot("chart");

	// Log out: back to the login form, and the session is gone.
	await page.click("#logout");
	await page.waitForSelector("#login-view:not([hidden])");
	const me = await page.evaluate(async () => (await fetch("/admin/api/me")).status);
	expect(me === 401, "after logout the session is over");
	await shot("logged-out");

	expect(consoleErrors.length === 0, `no script errors (${consoleErrors.join("; ")})`);
} catch (e) {
	console.error(String(e && e.stack ? e.stack : e));
	try {
		await shot("failure");
	} catch (e2) {
		/* the page may be gone */
	}
	rc = 1;
} finally {
	await browser.close();
}
process.exit(rc);

/*
 * fleetpki admin portal: one page over the JSON admin API (/admin/api).
 * No framework, no build step, nothing from the network: the chart is
 * SVG drawn here.  Everything shown is set as text (textContent), never
 * parsed as HTML.  The session is an HttpOnly cookie the page cannot
 * read; its CSRF token comes from /me or /login and goes with every POST.
 */
"use strict";

(function () {
	const API = "/admin/api";
	const BATCH = 500; /* ids per import request */
	const PAGE = 50;
	let csrf = null;
	/* Devices list: the cursors of the pages before this one. */
	let cursors = [];
	let cursor = null;
	let nextCursor = null;
	let current = null; /* the device open in the detail view */

	const $ = (id) => document.getElementById(id);

	class ApiError extends Error {
		constructor(status, message) {
			super(message);
			this.status = status;
		}
	}

	async function api(method, path, body) {
		const headers = { Accept: "application/json" };
		const init = { method, headers, credentials: "same-origin", cache: "no-store" };
		if (method !== "GET") {
			if (csrf) headers["X-CSRF-Token"] = csrf;
			if (body !== undefined) {
				headers["Content-Type"] = "application/json";
				init.body = JSON.stringify(body);
			}
		}
		const r = await fetch(API + path, init);
		if (r.status === 204) return null;
		let data = null;
		try {
			data = await r.json();
		} catch (e) {
			throw new ApiError(r.status, "The server's answer is not JSON (HTTP " + r.status + ").");
		}
		if (!r.ok) {
			const err = new ApiError(r.status, (data && data.message) || "HTTP " + r.status);
			if (r.status === 401 && path !== "/login") showLogin("Your session is over: log in again.");
			throw err;
		}
		return data;
	}

	function flash(text, bad) {
		const f = $("flash");
		f.textContent = text;
		f.classList.toggle("bad", !!bad);
		f.hidden = !text;
	}

	function el(tag, text, cls) {
		const e = document.createElement(tag);
		if (text !== undefined && text !== null) e.textContent = String(text);
		if (cls) e.className = cls;
		return e;
	}

	function when(iso) {
		if (!iso) return "—";
		return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
	}

	function clear(node) {
		while (node.firstChild) node.removeChild(node.firstChild);
	}

	/* ---- login ------------------------------------------------------ */

	function showLogin(message) {
		csrf = null;
		$("session").hidden = true;
		$("app-view").hidden = true;
		$("login-view").hidden = false;
		const e = $("login-error");
		e.textContent = message || "";
		e.hidden = !message;
		$("login-password").value = "";
	}

	function loggedIn(me) {
		csrf = me.csrfToken;
		$("whoami").textContent = me.name + " @ " + me.tenant;
		$("session").hidden = false;
		$("login-view").hidden = true;
		$("app-view").hidden = false;
		route();
	}

	$("login-form").addEventListener("submit", async (ev) => {
		ev.preventDefault();
		$("login-error").hidden = true;
		try {
			const me = await api("POST", "/login", {
				tenant: $("login-tenant").value,
				name: $("login-name").value,
				password: $("login-password").value,
			});
			$("login-password").value = "";
			flash("");
			loggedIn(me);
		} catch (e) {
			showLogin(e.message);
		}
	});

	$("logout").addEventListener("click", async () => {
		try {
			await api("POST", "/logout");
		} catch (e) {
			/* The session may be over already. */
		}
		location.hash = "";
		showLogin("Logged out.");
	});

	/* ---- views ------------------------------------------------------ */

	function show(view) {
		for (const s of document.querySelectorAll("section.view")) s.hidden = s.id !== view;
		for (const b of document.querySelectorAll("nav button"))
			if (b.dataset.view === view) b.setAttribute("aria-current", "page");
			else b.removeAttribute("aria-current");
	}

	for (const b of document.querySelectorAll("nav button"))
		b.addEventListener("click", () => {
			location.hash = "#/" + b.dataset.view;
		});

	function route() {
		if (!csrf) return;
		const h = location.hash.replace(/^#\/?/, "");
		const m = /^device\/([a-z0-9-]+)$/.exec(h);
		if (m) return openDevice(m[1]);
		if (h === "devices") return showDevices();
		if (h === "import") return show("import");
		return showDashboard();
	}
	window.addEventListener("hashchange", route);

	/* ---- dashboard -------------------------------------------------- */

	async function showDashboard() {
		show("dashboard");
		try {
			const [stats, acme] = await Promise.all([api("GET", "/stats"), api("GET", "/acme")]);
			const row = $("state-counts").tBodies[0].rows[0];
			clear(row);
			for (const s of ["pending", "issuing", "issued", "renewing", "failed", "disabled"]) {
				const td = el("td", stats.states[s], "num");
				td.dataset.state = s;
				row.appendChild(td);
			}
			drawChart($("expiry-chart"), stats.expiryWeeks);
			showAcme(acme);
		} catch (e) {
			flash(e.message, true);
		}
	}

	const SVG = "http://www.w3.org/2000/svg";

	function svg(tag, attrs, text) {
		const e = document.createElementNS(SVG, tag);
		for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
		if (text !== undefined) e.textContent = String(text);
		return e;
	}

	/* A bar per week: the count above it, the week's first day below. */
	function drawChart(box, weeks) {
		clear(box);
		const W = 780, H = 240, left = 40, bottom = 40, top = 20;
		const max = Math.max(1, ...weeks.map((w) => w.count));
		const slot = (W - left - 10) / weeks.length;
		const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, id: "expiry-svg" });
		s.appendChild(svg("line", { x1: left, y1: H - bottom, x2: W - 5, y2: H - bottom, class: "axis" }));
		s.appendChild(svg("line", { x1: left, y1: top, x2: left, y2: H - bottom, class: "axis" }));
		s.appendChild(svg("text", { x: 2, y: top + 4, class: "label" }, max));
		s.appendChild(svg("text", { x: 2, y: H - bottom, class: "label" }, 0));
		weeks.forEach((w, i) => {
			const h = ((H - bottom - top) * w.count) / max;
			const x = left + i * slot + slot * 0.15;
			const bar = svg("rect", {
				x, y: H - bottom - h, width: slot * 0.7, height: Math.max(h, 0),
				class: "bar", "data-week": w.week, "data-count": w.count,
			});
			bar.appendChild(svg("title", {}, `week from ${(w.from || "").slice(0, 10)}: ${w.count}`));
			s.appendChild(bar);
			s.appendChild(svg("text", { x: x + slot * 0.35, y: H - bottom - h - 4, "text-anchor": "middle" }, w.count));
			s.appendChild(svg("text", { x: x + slot * 0.35, y: H - bottom + 16, "text-anchor": "middle", class: "label" },
				(w.from || "").slice(5, 10)));
		});
		box.appendChild(s);
	}

	function fact(dl, k, v) {
		dl.appendChild(el("dt", k));
		dl.appendChild(el("dd", v === null || v === undefined || v === "" ? "—" : v));
	}

	function showAcme(a) {
		const dl = $("acme-info");
		clear(dl);
		fact(dl, "Directory", a.directoryUrl);
		if (a.account) {
			fact(dl, "Account", a.account.url || "(not registered yet)");
			fact(dl, "Account status", a.account.status);
			fact(dl, "Contact", a.account.contact);
			if (a.account.lastError) fact(dl, "Last error", a.account.lastError);
		} else {
			fact(dl, "Account", "none yet (made with the first order)");
		}
		const b = a.budget;
		fact(dl, "Weekly budget", b.weekly);
		fact(dl, "Used, last 7 days", b.usedLast7Days);
		fact(dl, "Remaining", b.remaining);
		fact(dl, "Queued orders (backlog)", `${b.queued} (${b.queuedRenewals} renewals)`);
		fact(dl, "In progress", b.inProgress);
	}

	/* ---- devices ------------------------------------------------------ */

	function query() {
		const p = new URLSearchParams();
		p.set("limit", PAGE);
		if (cursor) p.set("after", cursor);
		const prefix = $("search-prefix").value.trim();
		if (prefix) p.set("prefix", prefix);
		if ($("search-state").value) p.set("state", $("search-state").value);
		if ($("search-expires").value) p.set("expiresWithinDays", $("search-expires").value);
		return "?" + p.toString();
	}

	async function showDevices() {
		show("devices");
		await loadPage();
	}

	let pageSeq = 0;

	async function loadPage() {
		const body = $("device-table").tBodies[0];
		const seq = ++pageSeq;
		try {
			const page = await api("GET", "/devices" + query());
			/* A later search or page was asked for meanwhile: it wins. */
			if (seq !== pageSeq) return;
			clear(body);
			for (const d of page.devices) {
				const tr = el("tr");
				tr.dataset.device = d.deviceId;
				const a = el("a", d.deviceId);
				a.href = "#/device/" + d.deviceId;
				const td = el("td");
				td.appendChild(a);
				tr.appendChild(td);
				tr.appendChild(el("td", d.state, "state-" + d.state));
				tr.appendChild(el("td", when(d.notAfter)));
				tr.appendChild(el("td", when(d.lastSeen)));
				tr.appendChild(el("td", d.lastError || ""));
				body.appendChild(tr);
			}
			if (page.devices.length === 0) {
				const tr = el("tr");
				const td = el("td", "No devices match.");
				td.colSpan = 5;
				tr.appendChild(td);
				body.appendChild(tr);
			}
			nextCursor = page.next;
			$("page-next").disabled = !nextCursor;
			$("page-prev").disabled = cursors.length === 0;
			$("page-info").textContent = "page " + (cursors.length + 1);
		} catch (e) {
			flash(e.message, true);
		}
	}

	$("device-search").addEventListener("submit", (ev) => {
		ev.preventDefault();
		cursors = [];
		cursor = null;
		loadPage();
	});
	$("page-next").addEventListener("click", () => {
		if (!nextCursor) return;
		cursors.push(cursor);
		cursor = nextCursor;
		loadPage();
	});
	$("page-prev").addEventListener("click", () => {
		if (cursors.length === 0) return;
		cursor = cursors.pop();
		loadPage();
	});

	$("create-form").addEventListener("submit", async (ev) => {
		ev.preventDefault();
		$("create-result").hidden = true;
		try {
			const r = await api("POST", "/devices", { deviceId: $("create-id").value.trim() });
			$("created-id").textContent = r.deviceId;
			$("created-secret").textContent = r.secret;
			$("create-result").hidden = false;
			$("create-id").value = "";
			flash("Device " + r.deviceId + " added.");
			cursors = [];
			cursor = null;
			await loadPage();
		} catch (e) {
			flash(e.message, true);
		}
	});

	/* ---- device detail ---------------------------------------------- */

	async function openDevice(id) {
		show("device-detail");
		$("detail-secret-box").hidden = true;
		try {
			const d = await api("GET", "/devices/" + encodeURIComponent(id));
			current = d.deviceId;
			renderDevice(d);
		} catch (e) {
			flash(e.message, true);
		}
	}

	function renderDevice(d) {
		$("detail-id").textContent = d.deviceId;
		const dl = $("detail-facts");
		clear(dl);
		fact(dl, "State", d.state);
		dl.lastChild.id = "detail-state";
		fact(dl, "Enabled", d.enabled ? "yes" : "no");
		fact(dl, "Created", when(d.createdAt));
		fact(dl, "Registered", when(d.registeredAt));
		fact(dl, "Last seen", when(d.lastSeen));
		fact(dl, "Certificate expires", when(d.notAfter));
		fact(dl, "Last error", d.lastError);
		$("detail-disable").disabled = !d.enabled;
		$("detail-enable").disabled = d.enabled;
		const certs = $("detail-certs").tBodies[0];
		clear(certs);
		for (const c of d.certificates || []) {
			const tr = el("tr");
			for (const v of [c.hostname, c.serial, when(c.notBefore), when(c.notAfter),
				c.current ? "current" : "", c.serverKey ? "server-made" : "device CSR"])
				tr.appendChild(el("td", v));
			certs.appendChild(tr);
		}
		const orders = $("detail-orders").tBodies[0];
		clear(orders);
		for (const o of d.orders || []) {
			const tr = el("tr");
			const err = [o.errorType, o.errorDetail].filter(Boolean).join(": ");
			for (const v of [o.id, o.kind, o.state, when(o.createdAt), when(o.finishedAt), err])
				tr.appendChild(el("td", v));
			orders.appendChild(tr);
		}
	}

	async function deviceAction(action) {
		if (!current) return;
		try {
			const r = await api("POST", "/devices/" + encodeURIComponent(current) + "/" + action);
			if (action === "rotate-secret") {
				$("detail-secret").textContent = r.secret;
				$("detail-secret-box").hidden = false;
				flash("New secret for " + current + ": the old one no longer works.");
			} else {
				flash("Device " + current + (action === "disable" ? " disabled." : " enabled."));
			}
			const d = await api("GET", "/devices/" + encodeURIComponent(current));
			renderDevice(d);
		} catch (e) {
			flash(e.message, true);
		}
	}
	$("detail-disable").addEventListener("click", () => deviceAction("disable"));
	$("detail-enable").addEventListener("click", () => deviceAction("enable"));
	$("detail-rotate").addEventListener("click", () => deviceAction("rotate-secret"));
	$("detail-back").addEventListener("click", () => {
		location.hash = "#/devices";
	});

	/* ---- CSV import ------------------------------------------------- */

	/* The first field of each line; a header "id"/"deviceId" is skipped. */
	function parseCsv(text) {
		const ids = [];
		const lines = text.split(/\r?\n/);
		lines.forEach((line, i) => {
			let f = line.split(",")[0].trim();
			if (f.length >= 2 && f[0] === '"' && f[f.length - 1] === '"') f = f.slice(1, -1);
			if (f === "") return;
			if (i === 0 && /^(id|device_?id|deviceid)$/i.test(f)) return;
			ids.push({ id: f, line: i + 1 });
		});
		return ids;
	}

	function csvField(s) {
		return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
	}

	$("import-form").addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const file = $("import-file").files[0];
		if (!file) return;
		const rows = parseCsv(await file.text());
		const bar = $("import-progress");
		const status = $("import-status");
		const fails = $("import-failures");
		const fbody = fails.tBodies[0];
		const dl = $("import-download");
		clear(fbody);
		fails.hidden = true;
		if (dl.href) URL.revokeObjectURL(dl.href);
		dl.hidden = true;
		bar.max = Math.max(rows.length, 1);
		bar.value = 0;
		bar.hidden = false;
		$("import-start").disabled = true;
		const secrets = ["id,secret"];
		let added = 0, failed = 0, done = 0;
		try {
			for (let i = 0; i < rows.length; i += BATCH) {
				const batch = rows.slice(i, i + BATCH);
				const r = await api("POST", "/devices/import", {
					ids: batch.map((x) => x.id),
					atomic: $("import-atomic").checked,
				});
				for (const a of r.added) secrets.push(csvField(a.deviceId) + "," + a.secret);
				for (const f of r.failed) {
					const tr = el("tr");
					tr.appendChild(el("td", batch[f.row] ? batch[f.row].line : "?"));
					tr.appendChild(el("td", f.deviceId));
					tr.appendChild(el("td", f.reason));
					fbody.appendChild(tr);
				}
				added += r.addedCount;
				failed += r.failedCount;
				done += batch.length;
				bar.value = done;
				status.textContent = `${done} of ${rows.length} rows: ${added} added, ${failed} failed`;
			}
			status.textContent = `Done: ${rows.length} rows, ${added} added, ${failed} failed.`;
		} catch (e) {
			status.textContent = `Stopped after ${done} of ${rows.length} rows: ${e.message}`;
			flash(e.message, true);
		} finally {
			$("import-start").disabled = false;
		}
		fails.hidden = fbody.rows.length === 0;
		if (added > 0) {
			dl.href = URL.createObjectURL(new Blob([secrets.join("\n") + "\n"], { type: "text/csv" }));
			dl.hidden = false;
		}
	});

	/* ---- start ------------------------------------------------------ */

	(async () => {
		try {
			loggedIn(await api("GET", "/me"));
		} catch (e) {
			showLogin(e.status === 401 ? "" : e.message);
		}
	})();
})();

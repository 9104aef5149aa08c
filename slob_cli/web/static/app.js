// slob web: fetch the read-only JSON API, draw it, and redraw what the event stream says changed.
// Every value reaches the page through textContent (never innerHTML), so stored text cannot inject markup.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const LWC = window.LightweightCharts;
  const TERMINAL = new Set(["setup_complete", "invalidated", "setup_skipped", "skipped"]);
  const state = {
    zone: "UTC",
    symbol: null,
    date: null,
    lastCandle: null,
    chart: null,
    candles: null,
    markers: null,
    lines: [],
    levels: [],
    equityChart: null,
    equity: null,
    busy: new Map(),
    zoneReady: Promise.resolve(),
  };

  // ------------------------------------------------------------------ fetching
  async function getJSON(path) {
    // The server marks every answer no-store; the page's first reads come from <link rel=preload>.
    const response = await fetch(path, { credentials: "same-origin" });
    if (response.status === 401) {
      location.reload(); // the server answers the page itself with its login prompt
      throw new Error("token required");
    }
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  // Run one refresher at a time per name; a request that arrives meanwhile runs once afterwards.
  function refresh(name, job) {
    const entry = state.busy.get(name);
    if (entry) {
      entry.again = true;
      return entry.promise;
    }
    const record = { again: false, promise: null };
    record.promise = (async () => {
      try {
        do {
          record.again = false;
          await job();
          performance.mark(`slob:${name}`); // when each panel was last drawn (bench/web.py reads them)
        } while (record.again);
      } catch (error) {
        console.warn(name, error.message);
      } finally {
        state.busy.delete(name);
      }
    })();
    state.busy.set(name, record);
    return record.promise;
  }

  // ------------------------------------------------------------------ formatting
  const formatters = new Map();
  function formatter(options) {
    // Swedish order reads as ISO: 2026-01-06 15:40:12. Building a formatter is slow: keep each one.
    const key = state.zone + JSON.stringify(options);
    if (!formatters.has(key)) {
      formatters.set(key, new Intl.DateTimeFormat("sv-SE", { timeZone: state.zone, hour12: false, ...options }));
    }
    return formatters.get(key);
  }
  function parseTime(value) {
    if (value === null || value === undefined || value === "") return null;
    const moment = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return Number.isNaN(moment.getTime()) ? null : moment;
  }
  function clock(value, withDate = false) {
    const moment = parseTime(value);
    if (!moment) return "-";
    const options = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    if (withDate) Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit" });
    return formatter(options).format(moment).replace(",", "");
  }
  // No money, price or points figure is worded here: each comes with its text (`pnl_money_text`,
  // `entry_price_text`, `to_stop_text`, ...), made by the server as `slob status` and `slob dashboard` print it.
  function textOf(row, key) {
    const shown = row[`${key}_text`];
    return shown === null || shown === undefined ? "-" : shown;
  }
  function tone(element, value) {
    element.classList.toggle("good", value > 0);
    element.classList.toggle("bad", value < 0);
  }
  function shortId(id) {
    const match = /^[A-Z]+-\d{8}-(.+)$/.exec(String(id)); // NQ-20260106-S1 -> S1
    return match ? match[1] : String(id);
  }

  // ------------------------------------------------------------------ tables
  function fillTable(table, columns, rows, emptyText) {
    table.replaceChildren();
    if (!rows.length) {
      const row = table.insertRow();
      const cell = row.insertCell();
      cell.className = "empty";
      cell.textContent = emptyText;
      table.dataset.rows = "0";
      return;
    }
    const head = table.createTHead().insertRow();
    for (const [title, , numeric] of columns) {
      const th = document.createElement("th");
      th.textContent = title;
      if (numeric) th.className = "num";
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const item of rows) {
      const row = body.insertRow();
      for (const [, render, numeric] of columns) {
        const cell = row.insertCell();
        const value = render(item);
        if (value instanceof Node) cell.appendChild(value);
        else cell.textContent = value === null || value === undefined ? "-" : String(value);
        if (numeric) cell.className = "num";
      }
    }
    table.dataset.rows = String(rows.length);
  }
  function span(text, className) {
    const element = document.createElement("span");
    element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  // ------------------------------------------------------------------ header and status
  async function loadHeader() {
    const query = state.symbol ? `?symbol=${encodeURIComponent(state.symbol)}` : "";
    const data = await getJSON(`/api/header${query}`);
    if (data.zone && data.zone !== state.zone) {
      state.zone = data.zone;
      $("zone").textContent = data.zone;
    }
    const session = $("h-session");
    session.textContent = data.running || "not running";
    session.className = data.running ? "good" : "warn";
    const connection = $("h-connection");
    connection.textContent = data.connected === null ? "-" : data.connected ? "connected" : "DISCONNECTED";
    connection.className = data.connected === null ? "" : data.connected ? "good" : "bad";
    const mode = $("h-data");
    mode.textContent = data.data_mode || "-";
    mode.className = data.data_mode === "delayed" ? "warn" : "";
    // Every age comes worded by the server (`ages`), as `slob status` and `slob dashboard` word it.
    const ages = data.ages || {};
    $("h-tick").textContent = ages.last_tick || "-";
    const live = data.liveness || {};
    const beat = $("h-heartbeat");
    const whose = data.heartbeat_of || {};
    const first = whose.of_running_session && !whose.written;  // the running session has written none yet
    beat.textContent = (first ? "none yet" + (ages.started ? `, started ${ages.started}` : "")
      : (!whose.of_running_session && whose.run_id ? `run ${whose.run_id}'s last, ` : "") + (ages.heartbeat || "-"))
      + (live.sign === "pulse" && ages.alive ? `, alive ${ages.alive} (real time)` : "")
      + (live.sign === "process" && !live.stale ? `, alive (${live.note})` : "")
      + (live.stale ? " " + data.stale_text : "");  // worded by the server, as status and dashboard
    beat.className = live.stale ? "bad" : "";
    $("h-run").textContent = data.run_id ? `#${data.run_id}${data.run_command ? " " + data.run_command : ""}` : "-";
    $("h-clock-label").textContent = data.clock.label || "clock (wall)";  // e.g. simulated clock of sim run 2 (ended)
    $("h-clock").textContent = clock(data.clock.now, true);
  }

  async function loadStatus() {
    const data = await getJSON("/api/status");
    await state.zoneReady;
    $("store-name").textContent = String(data.db_path).split("/").pop();
    const today = data.today || {};
    $("today-date").textContent = today.trading_date || "";
    $("today-trades").textContent = today.closed_trades ?? "-";
    const pnl = $("today-pnl");
    pnl.textContent = today.pnl_money_text || "-";  // money as the server writes it, as status and dashboard
    tone(pnl, today.pnl_money);
    $("today-points").textContent = textOf(today, "pnl_points");
    $("today-commission").textContent = today.commission_text || "-";
    fillTable($("open-setups"), [
      ["setup", (s) => s.id],
      ["date", (s) => s.trading_date],
      ["dir", (s) => s.direction],
      ["state", (s) => s.state],
      ["HIGH", (s) => textOf(s, "high"), true],
      ["LOW", (s) => textOf(s, "low"), true],
      ["LIQ #1", (s) => textOf(s, "liq1_price"), true],
      ["LIQ #2", (s) => textOf(s, "liq2_price"), true],
      ["entry", (s) => textOf(s, "entry_estimate"), true],
      ["stop", (s) => textOf(s, "stop"), true],
      ["target", (s) => textOf(s, "target"), true],
    ], data.open_setups || [], "No open setups.");
    fillTable($("orders"), [
      ["order", (o) => o.order_ref],
      ["role", (o) => o.role],
      ["action", (o) => o.action],
      ["type", (o) => o.order_type],
      ["qty", (o) => o.quantity, true],
      ["limit", (o) => textOf(o, "limit_price"), true],
      ["stop", (o) => textOf(o, "stop_price"), true],
      ["status", (o) => o.status],
      ["filled", (o) => o.filled, true],
      ["", (o) => (o.ended_sim_run ? "ended sim run" : "")],
    ], data.working_orders || [], "No working orders.");
    fillTable($("today-list"), [
      ["setup", (t) => t.setup_id],
      ["points", (t) => textOf(t, "pnl_points"), true],
      ["net", (t) => { const s = span(t.pnl_money_text); tone(s, t.pnl_money); return s; }, true],
    ], today.trades || [], "No trade closed today.");
  }

  async function loadPositions() {
    const data = await getJSON("/api/positions");
    await state.zoneReady;
    const box = $("position");
    box.replaceChildren();
    box.dataset.positions = String(data.positions.length);
    if (!data.positions.length) {
      box.appendChild(span("No open position.", "empty"));
      return;
    }
    for (const p of data.positions) {
      const list = document.createElement("dl");
      list.className = "figures";
      const pairs = [
        ["position", `${p.direction} ${p.quantity} ${p.symbol}${p.ended_sim_run ? " (ended sim run)" : ""}`],
        ["entry", `${textOf(p, "entry_price")} at ${clock(p.entry_time)}`],
        ["last", textOf(p, "last_price")],
        ["unrealized", `${p.unrealized_money_text} (${textOf(p, "unrealized_points")} pts)`],
        ["to stop", `${textOf(p, "to_stop")} pts (${textOf(p, "stop")})`],
        ["to target", `${textOf(p, "to_target")} pts (${textOf(p, "target")})`],
      ];
      for (const [title, value] of pairs) {
        const item = document.createElement("div");
        const dt = document.createElement("dt");
        dt.textContent = title;
        const dd = document.createElement("dd");
        dd.textContent = value;
        if (title === "unrealized") tone(dd, p.unrealized_money);
        item.append(dt, dd);
        list.appendChild(item);
      }
      box.appendChild(list);
    }
  }

  // ------------------------------------------------------------------ the chart
  function makeChart(container, height) {
    return LWC.createChart(container, {
      autoSize: true,
      height,
      layout: { background: { type: "solid", color: "#161e27" }, textColor: "#c3cdd8", attributionLogo: false },
      grid: { vertLines: { color: "#1f2a36" }, horzLines: { color: "#1f2a36" } },
      rightPriceScale: { borderColor: "#263241" },
      timeScale: {
        borderColor: "#263241",
        timeVisible: true,
        secondsVisible: false,
        tickMarkFormatter: (time, type) => formatter(type <= 2 ? { month: "short", day: "numeric" }
          : { hour: "2-digit", minute: "2-digit" }).format(new Date(time * 1000)),
      },
      localization: { timeFormatter: (time) => clock(time, true) },
    });
  }

  function ensureChart() {
    if (state.chart) return;
    state.chart = makeChart($("chart"), 380);
    state.candles = state.chart.addSeries(LWC.CandlestickSeries, {
      upColor: "#26a69a", downColor: "#ef5350", borderVisible: false, wickUpColor: "#26a69a", wickDownColor: "#ef5350",
      // Keep every drawn level (stop, target, LSE range) on screen, not only the candles.
      autoscaleInfoProvider: (original) => {
        const range = original();
        if (!range || !state.levels.length) return range;
        const prices = range.priceRange;
        return { ...range, priceRange: {
          minValue: Math.min(prices.minValue, ...state.levels), maxValue: Math.max(prices.maxValue, ...state.levels),
        } };
      },
    });
    state.markers = LWC.createSeriesMarkers(state.candles, []);
  }

  function bar(row) {
    return { time: row[0], open: row[1], high: row[2], low: row[3], close: row[4] };
  }

  function drawOverlays(data) {
    for (const line of state.lines) state.candles.removePriceLine(line);
    state.lines = [];
    state.levels = [];
    const add = (value, title, color, style) => {
      if (value === null || value === undefined) return;
      state.levels.push(value);
      state.lines.push(state.candles.createPriceLine({
        price: value, color, lineWidth: 1, lineStyle: style, axisLabelVisible: true, title,
      }));
    };
    const SOLID = 0, DOTTED = 1, DASHED = 2;
    if (data.levels) {
      add(data.levels.high, "LSE high", "#b39ddb", DASHED);
      add(data.levels.low, "LSE low", "#b39ddb", DASHED);
    }
    const markers = [];
    const minute = (seconds) => seconds - (seconds % 60);
    const legend = [];
    for (const setup of data.setups) {
      const name = shortId(setup.id);
      const open = !TERMINAL.has(String(setup.state).toLowerCase());
      // A completed setup keeps its entry, stop and target on the chart until its trade is closed.
      const complete = String(setup.state).toLowerCase() === "setup_complete" && !setup.trade_exit_time;
      if (!open && !complete) continue;
      legend.push(`${name} ${setup.direction} ${setup.state}`);
      if (open) {
        add(setup.high, `${name} HIGH`, "#90a4ae", DOTTED);
        add(setup.low, `${name} LOW`, "#90a4ae", DOTTED);
      }
      add(setup.entry_estimate, `${name} entry`, "#4f8ff7", SOLID);
      add(setup.stop, `${name} stop`, "#ef5350", SOLID);
      add(setup.target, `${name} target`, "#26a69a", SOLID);
      for (const [key, label] of [["liq1", "LIQ #1"], ["liq2", "LIQ #2"]]) {
        const moment = parseTime(setup[`${key}_time`]);
        if (moment && setup[`${key}_price`] !== null) {
          const above = setup.direction === "SHORT";
          markers.push({
            time: minute(Math.floor(moment.getTime() / 1000)), position: above ? "aboveBar" : "belowBar",
            color: "#f0b429", shape: "circle", text: `${name} ${label}`,
          });
        } else if (open) {
          add(setup[`${key}_price`], `${name} ${label}`, "#f0b429", DOTTED);
        }
      }
    }
    for (const fill of data.fills) {
      if (fill.time === null) continue;
      const buy = /^(B|BOT|BUY)/i.test(fill.side);
      markers.push({
        time: minute(fill.time), position: buy ? "belowBar" : "aboveBar", color: buy ? "#26a69a" : "#ef5350",
        shape: buy ? "arrowUp" : "arrowDown", text: fill.text,
      });
    }
    // A marker must sit on a drawn bar: snap each to the last bar at or before it (gaps, halts).
    const times = state.candles.data().map((item) => item.time);
    const placed = [];
    for (const marker of markers) {
      let low = 0, high = times.length - 1, found = -1;
      while (low <= high) {
        const middle = (low + high) >> 1;
        if (times[middle] <= marker.time) { found = middle; low = middle + 1; } else { high = middle - 1; }
      }
      if (found >= 0) placed.push({ ...marker, time: times[found] });
    }
    placed.sort((a, b) => a.time - b.time);
    state.markers.setMarkers(placed);
    const chart = $("chart");
    chart.dataset.markers = String(placed.length);
    chart.dataset.fills = String(data.fills.length);
    chart.dataset.lines = String(state.lines.length);
    $("chart-legend").textContent = legend.length ? `Setups: ${legend.join(" · ")}` : "No open setups on this day.";
  }

  async function loadChart(full) {
    ensureChart();
    let query = state.symbol ? `symbol=${encodeURIComponent(state.symbol)}` : "";
    if (!full && state.lastCandle !== null) query += `&since=${state.lastCandle}`;
    let data = await getJSON(query ? `/api/candles?${query.replace(/^&/, "")}` : "/api/candles");
    if (!full && data.trading_date !== state.date) {
      data = await getJSON(`/api/candles?symbol=${encodeURIComponent(data.symbol || "")}`);
      full = true;
    }
    await state.zoneReady;
    state.symbol = data.symbol;
    state.date = data.trading_date;
    $("chart-title").textContent = data.symbol ? `${data.symbol} M1 · ${data.trading_date}` : "No candles yet";
    const bars = data.candles.map(bar);
    if (full) {
      state.candles.setData(bars);
      state.chart.timeScale().fitContent();
    } else {
      for (const item of bars) state.candles.update(item);
    }
    if (bars.length) state.lastCandle = bars[bars.length - 1].time;
    const chart = $("chart");
    chart.dataset.candles = String(state.candles.data().length);
    chart.dataset.lastClose = bars.length ? String(bars[bars.length - 1].close) : chart.dataset.lastClose || "";
    drawOverlays(data);
  }

  // ------------------------------------------------------------------ history
  async function loadTrades() {
    const data = await getJSON("/api/trades");
    await state.zoneReady;
    $("history-summary").textContent =
      `${data.closed} closed, ${data.wins} won, ${data.pnl_money_text} in all`;
    if (!state.equityChart) {
      state.equityChart = makeChart($("equity"), 200);
      state.equity = state.equityChart.addSeries(LWC.BaselineSeries, {
        baseValue: { type: "price", price: 0 }, lineWidth: 2,
      });
    }
    const points = new Map();
    for (const [time, value] of data.equity) points.set(time, value); // one point per second: the last
    const curve = [...points].map(([time, value]) => ({ time, value }));
    if (curve.length) curve.unshift({ time: curve[0].time - 60, value: 0 }); // the curve starts from nothing
    state.equity.setData(curve);
    state.equityChart.timeScale().fitContent();
    const newest = [...data.trades].reverse();
    fillTable($("trades"), [
      ["setup", (t) => t.setup_id],
      ["dir", (t) => t.direction],
      ["qty", (t) => t.quantity, true],
      ["entry", (t) => textOf(t, "entry_price"), true],
      ["entered", (t) => clock(t.entry_time, true)],
      ["exit", (t) => textOf(t, "exit_price"), true],
      ["exited", (t) => clock(t.exit_time, true)],
      ["reason", (t) => t.exit_reason],
      ["points", (t) => textOf(t, "pnl_points"), true],
      ["net", (t) => { const s = span(t.pnl_money_text); tone(s, t.pnl_money); return s; }, true],
      ["status", (t) => t.status],
    ], newest, "No trades yet.");
    $("trades").dataset.total = String(data.total);
  }

  async function loadSetupStates() {
    const data = await getJSON("/api/setups");
    const entries = Object.entries(data.by_state);
    const rows = entries.filter(([name]) => TERMINAL.has(name)).sort((a, b) => b[1] - a[1]);
    const open = entries.filter(([name]) => !TERMINAL.has(name)).reduce((sum, [, count]) => sum + count, 0);
    if (open) rows.push(["still open", open]);
    fillTable($("setup-states"), [
      ["final state", (r) => r[0]],
      ["setups", (r) => r[1], true],
      ["share", (r) => `${((100 * r[1]) / Math.max(1, data.total)).toFixed(1)} %`, true],
    ], rows, "No setups yet.");
  }

  async function loadReports() {
    const data = await getJSON("/api/reports");
    const list = $("reports");
    list.replaceChildren();
    if (!data.reports.length) {
      list.appendChild(span("No stored reports (slob paper writes them beside the store).", "empty"));
      return;
    }
    for (const report of data.reports) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.run = String(report.run);
      button.append(span(`run ${report.run}: `), span(report.verdict || "-", report.passed ? "good" : "bad"));
      button.addEventListener("click", () => showReport(report.run));
      item.appendChild(button);
      list.appendChild(item);
    }
  }

  async function showReport(run) {
    const data = await getJSON(`/api/reports/${run}`);
    const view = $("report-view");
    view.hidden = false;
    view.replaceChildren();
    const title = document.createElement("h3");
    title.textContent = `Run ${run}: ${data.verdict}`;
    title.className = data.passed ? "good" : "bad";
    const table = document.createElement("table");
    fillTable(table, [
      ["result", (c) => span(c.passed ? "PASS" : c.severity === "error" ? "FAIL" : "WARN",
        c.passed ? "good" : c.severity === "error" ? "bad" : "warn")],
      ["criterion", (c) => c.name],
      ["detail", (c) => c.detail],
    ], data.criteria || [], "No criteria.");
    const scroll = document.createElement("div");
    scroll.className = "scroll";
    scroll.appendChild(table);
    view.append(title, scroll);
  }

  // ------------------------------------------------------------------ live updates
  const jobs = {
    header: () => refresh("header", loadHeader),
    status: () => refresh("status", loadStatus),
    positions: () => refresh("positions", loadPositions),
    chart: () => refresh("chart", () => loadChart(false)),
    trades: () => refresh("trades", loadTrades),
    setups: () => refresh("setups", loadSetupStates),
    reports: () => refresh("reports", loadReports),
  };
  const TOPICS = {
    candles: ["chart", "header", "positions"],
    ticks: ["header", "positions"],
    fills: ["chart", "status", "positions"],
    trades: ["trades", "status", "positions"],
    orders: ["status", "positions"],
    setups: ["chart", "status", "setups"],
    health: ["header"],
    runs: ["header", "reports"],
    lock: ["header", "status"],
    clock: ["header"],
  };

  function onChange(topics) {
    const wanted = new Set();
    for (const topic of topics) {
      for (const job of topic === "all" ? Object.keys(jobs) : TOPICS[topic] || []) wanted.add(job);
    }
    for (const job of wanted) jobs[job]();
  }

  function listen() {
    const source = new EventSource("/api/events");
    const live = $("live");
    source.addEventListener("hello", () => {
      live.textContent = "live";
      live.className = "live on";
      if (state.connectedBefore) onChange(["all"]); // a reconnect may have missed changes
      state.connectedBefore = true;
    });
    source.addEventListener("change", (event) => onChange(JSON.parse(event.data).topics));
    source.addEventListener("error", () => {
      live.textContent = "offline";
      live.className = "live off";
    });
  }

  const painted = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));

  async function start() {
    $("zone").textContent = state.zone;
    // The live view first (header, chart, today, position, open setups, orders: fetched at once, their
    // reads preloaded by index.html); drawing waits for the header, which names the display zone.
    state.zoneReady = refresh("header", loadHeader);
    await Promise.all([
      state.zoneReady, refresh("status", loadStatus), refresh("positions", loadPositions), refresh("chart", () => loadChart(true)),
    ]);
    // The chart paints on the next animation frames: count the first render once it has.
    await painted();
    window.slobFirstRender = performance.now();
    // Then the history below the fold (equity chart, trades, final states, reports): it no longer
    // competes with the first paint for the server, the network or the main thread.
    await Promise.all([refresh("trades", loadTrades), refresh("setups", loadSetupStates), refresh("reports", loadReports)]);
    await painted();
    window.slobAllPanels = performance.now();
    document.body.dataset.ready = "1";
    listen();
  }

  start();
})();

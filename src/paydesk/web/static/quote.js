// Live quotes: as someone fills in a money form, ask POST /api/v1/quotes and show the fee, the rate and
// what arrives. Progressive enhancement only: without this script the form still shows the same numbers on
// its review step before anything is confirmed.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-quote]");
  Array.prototype.forEach.call(forms, function (form) {
    var out = form.querySelector("output.live-quote");
    if (!out || !window.fetch) { return; }
    var timer = null;
    var seq = 0;
    function value(name) {
      var field = form.elements.namedItem(name);
      return field && "value" in field ? String(field.value).trim() : "";
    }
    function ask() {
      var amount = value("amount");
      if (!amount) { out.textContent = ""; return; }
      var body = {operation: form.dataset.quote, currency: value("currency"), amount: amount};
      if (value("method") && (body.operation === "topup" || body.operation === "withdraw")) { body.method = value("method"); }
      if (body.operation === "exchange") { body.to_currency = value("to_currency"); }
      if (body.operation === "withdraw") {
        if (value("destination_id")) { body.destination_id = value("destination_id"); }
        else {
          var destination = {};
          ["iban", "bic", "address"].forEach(function (k) { if (value(k)) { destination[k] = value(k); } });
          if (Object.keys(destination).length) { body.destination = destination; }
        }
      }
      var mine = ++seq;
      fetch("/api/v1/quotes", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": value("csrf_token")},
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (data) { return {ok: response.ok, data: data}; });
      }).then(function (result) {
        if (mine !== seq) { return; }  // an answer to an older question
        var d = result.data;
        if (!result.ok) { out.textContent = d.detail || d.title || ""; out.className = "live-quote error"; return; }
        var parts = [out.dataset.fee + " " + d.fee + " " + d.currency];
        if (d.fee_before_promotion) { parts[0] += " (" + d.fee_before_promotion + ")"; }
        if (d.rate) { parts.push(out.dataset.rate + " 1 " + d.currency + " = " + d.rate + " " + d.to_currency); }
        parts.push(out.dataset.debit + " " + d.debit + " " + d.currency);
        parts.push(out.dataset.credit + " " + d.credit + " " + (d.to_currency || d.currency));
        out.textContent = parts.join(" · ");
        out.className = "live-quote";
      }).catch(function () { if (mine === seq) { out.textContent = ""; } });
    }
    function later() { clearTimeout(timer); timer = setTimeout(ask, 350); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  });
})();

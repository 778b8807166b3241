// A stand-in for Intercom's Messenger loader, for local demos and the browser tests: it records
// what the real Messenger would receive (window.intercomSettings and the queued Intercom calls)
// in window.__intercomStub and shows it on the page. Nothing is sent anywhere.
(function () {
  var queue = (window.Intercom && window.Intercom.q) || [];
  var settings = window.intercomSettings || null;
  var claims = null;
  if (settings && settings.intercom_user_jwt) {
    var part = settings.intercom_user_jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    claims = JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
  }
  var received = {
    settings: settings,
    jwt_claims_unverified: claims,
    queue: queue.map(function (args) { return Array.prototype.slice.call(args); }),
    src: document.currentScript ? document.currentScript.src : null
  };
  window.__intercomStub = received;
  var box = document.createElement("pre");
  box.id = "intercom-stub";
  box.textContent = "Intercom Messenger (local stub) received:\n" + JSON.stringify(received, null, 2);
  document.body.appendChild(box);
})();

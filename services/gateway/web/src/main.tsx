import { render } from "preact";
import { App } from "./app.tsx";
import { followCheckoutOutcome } from "./checkout-outcome.ts";
import { startLiveNotifications } from "./live-notifications.ts";
import { startLiveUpdates } from "./live/live-updates.ts";
import { startScrollRestoration } from "./router.ts";
import "./styles.css";

startScrollRestoration();
startLiveNotifications();
followCheckoutOutcome();
startLiveUpdates();
const root = document.getElementById("app");
if (root) render(<App />, root);

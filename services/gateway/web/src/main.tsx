import { render } from "preact";
import { App } from "./app.tsx";
import { startLiveNotifications } from "./live-notifications.ts";
import "./styles.css";

startLiveNotifications();
render(<App />, document.getElementById("app")!);

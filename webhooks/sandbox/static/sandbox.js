// The sandbox's chat page: send as the user, press buttons, and follow the chat as it changes.
"use strict";

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body === undefined ? {} : body),
  });
  const answer = await response.json();
  if (!response.ok) {
    throw new Error(answer.error || response.statusText);
  }
  return answer;
}

function setupIndex() {
  const newUser = document.getElementById("new-user");
  const openChat = document.getElementById("open-chat");
  if (!newUser || !openChat) {
    return;
  }
  const base = document.querySelector(".topbar a").getAttribute("href").replace(/\/$/, "");
  function chatUrl(bot, user) {
    return `${base}/chat/${encodeURIComponent(bot)}/${encodeURIComponent(user)}`;
  }
  newUser.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, value] of new FormData(newUser)) {
      if (value) {
        body[name] = value;
      }
    }
    const error = document.getElementById("new-user-error");
    try {
      const user = await postJson(`${base}/api/users`, body);
      const bot = document.getElementById("bot-select").value;
      window.location.href = bot ? chatUrl(bot, user.id) : `${base}/`;
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  });
  openChat.addEventListener("submit", (event) => {
    event.preventDefault();
    const bot = document.getElementById("bot-select").value;
    const user = document.getElementById("user-select").value;
    if (bot && user) {
      window.location.href = chatUrl(bot, user);
    }
  });
}

function setupChat() {
  const chat = document.getElementById("chat");
  if (!chat) {
    return;
  }
  const api = chat.dataset.api;
  const transcript = document.getElementById("transcript");
  let revision = -1;

  function showDates() {
    for (const time of transcript.querySelectorAll("time[data-unix]")) {
      const date = new Date(Number(time.dataset.unix) * 1000);
      time.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
  }

  async function refresh() {
    const response = await fetch(chat.dataset.transcript);
    if (!response.ok) {
      return;
    }
    // The fragment is rendered by the server with everything escaped.
    transcript.innerHTML = await response.text();
    const state = document.getElementById("transcript-state");
    revision = Number(state.dataset.revision);
    document.getElementById("block-toggle").textContent =
      state.dataset.blocked === "true" ? "Unblock bot" : "Block bot";
    showDates();
    transcript.scrollTop = transcript.scrollHeight;
  }

  async function follow() {
    for (;;) {
      try {
        const response = await fetch(`${api}/wait?revision=${revision}&timeout=25`);
        const state = await response.json();
        if (state.revision !== revision) {
          await refresh();
        }
      } catch (failure) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  async function send(body) {
    try {
      await postJson(`${api}/messages`, body);
    } catch (failure) {
      window.alert(failure.message);
    }
  }

  function location() {
    return {
      latitude: Number(document.getElementById("latitude").value),
      longitude: Number(document.getElementById("longitude").value),
    };
  }

  function sharePhone() {
    const phone = chat.dataset.phone || window.prompt("Phone number to share");
    if (phone) {
      send({ contact: { phone_number: phone } });
    }
  }

  document.getElementById("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    if (input.value.trim()) {
      send({ text: input.value });
      input.value = "";
    }
  });
  document.getElementById("share-contact").addEventListener("click", sharePhone);
  document.getElementById("share-location").addEventListener("click", () => send({ location: location() }));
  document.getElementById("sticker").addEventListener("click", () => send({ sticker: true }));
  document.getElementById("photo").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (!file) {
      return;
    }
    const reader = new FileReader();
    reader.onload = () => send({ photo_base64: String(reader.result).split(",")[1] });
    reader.readAsDataURL(file);
    event.target.value = "";
  });
  document.getElementById("block-toggle").addEventListener("click", async () => {
    const blocked = document.getElementById("transcript-state").dataset.blocked === "true";
    await postJson(`${api}/${blocked ? "unblock" : "block"}`);
  });
  transcript.addEventListener("click", async (event) => {
    const inline = event.target.closest("button.inline-button[data-callback]");
    if (inline) {
      try {
        await postJson(`${api}/callback`, {
          message_id: Number(inline.dataset.messageId),
          data: inline.dataset.callback,
        });
      } catch (failure) {
        window.alert(failure.message);
      }
      return;
    }
    const reply = event.target.closest("button.reply-button");
    if (!reply) {
      return;
    }
    if (reply.dataset.request === "contact") {
      sharePhone();
    } else if (reply.dataset.request === "location") {
      send({ location: location() });
    } else {
      send({ text: reply.dataset.text });
    }
  });

  revision = Number(document.getElementById("transcript-state").dataset.revision);
  showDates();
  transcript.scrollTop = transcript.scrollHeight;
  follow();
}

setupIndex();
setupChat();

// French and English, chosen from the browser's languages (English when neither is preferred).
const STRINGS = {
  en: {
    skip: "Skip to content", signin: "Sign in", signup: "Create an account", verify: "Verify your email",
    email: "Email", password: "Password", password_hint: "At least 8 characters, with upper and lower case letters and a digit.",
    code: "Code received by email", no_account: "New here? Create an account", have_account: "Already have an account? Sign in",
    code_sent: "We sent a code to {email}.", verified: "Email verified: sign in.", worker_key: "Sign in with a worker key",
    key: "Worker key", signout: "Sign out", profile: "Profile", display_name: "Display name",
    languages: "Languages you read (e.g. fr, en)", country: "Country (2 letters, e.g. FR)",
    terms: "I accept the terms: I am paid per accepted answer; answers may be reviewed and rejected with a reason.",
    save: "Save", saved: "Saved.", projects: "Tasks", open_projects: "Projects open to you", no_projects: "No project is open to you right now.",
    reward: "{amount} per answer", time_per_task: "{minutes} min per task", start: "Start", no_task_here: "No task left for now.", any_task: "Take the next task",
    instructions: "Instructions", submit: "Submit", skip_task: "Skip", no_task: "No task available right now. Come back later.",
    time_left: "Time left: {time}", expired: "This task has expired.", next: "Next task",
    prefetch: "Keep 3 tasks for offline", prefetched: "{n} tasks kept for offline work.",
    history: "History", no_history: "No answer yet.", earnings: "Earnings", earned: "Earned", pending: "Awaiting review",
    ledger: "Payments", reliability: "Reliability", unknown: "not known yet", my_projects: "By project",
    answers_n: "Answers: {n}", blocked: "Blocked until {date}", blocked_forever: "Blocked",
    state_leased: "In progress", state_submitted: "Awaiting review", state_approved: "Approved", state_rejected: "Rejected",
    state_returned: "Skipped", state_expired: "Expired", reason: "Reason: {reason}",
    offline: "Offline: answers are kept on this phone.", queued: "{n} answer(s) waiting to be sent.",
    sent: "Answer sent.", sent_n: "{n} answer(s) sent.", answer_failed: "An answer was refused: {message}",
    network: "No network. Try again when you are online.", required: "Answer before submitting.", your_answer: "Your answer",
    choose_n: "Choose between {min} and {max}.", boxes_help: "Drag on the image to draw a box around each object.",
    boxes_keys: "With a keyboard: arrows move, Enter sets one corner then the other.", box_label: "Label of the next box", boxes_drawn: "Boxes drawn", remove: "Remove", undo: "Remove last box",
    tie: "Equally good", left: "Left", right: "Right", which_better: "Which one is better?",
    bonus: "Bonus", reward_entry: "Reward", terms_needed: "Accept the terms in your profile first.",
    nav: "Main", kind: "Kind of task", all_kinds: "All", kind_single_choice: "One choice", kind_multiple_choice: "Several choices",
    kind_number: "A number", kind_rating: "A rating", kind_text: "A text", kind_pairwise: "Compare two", kind_boxes: "Boxes on an image", error: "Something went wrong: {message}", loading: "Loading…",
  },
  fr: {
    skip: "Aller au contenu", signin: "Se connecter", signup: "Créer un compte", verify: "Vérifier votre e-mail",
    email: "E-mail", password: "Mot de passe", password_hint: "Au moins 8 caractères, avec majuscules, minuscules et un chiffre.",
    code: "Code reçu par e-mail", no_account: "Nouveau ? Créer un compte", have_account: "Déjà un compte ? Se connecter",
    code_sent: "Nous avons envoyé un code à {email}.", verified: "E-mail vérifié : connectez-vous.", worker_key: "Se connecter avec une clé de travail",
    key: "Clé de travail", signout: "Se déconnecter", profile: "Profil", display_name: "Nom affiché",
    languages: "Langues que vous lisez (ex. fr, en)", country: "Pays (2 lettres, ex. FR)",
    terms: "J'accepte les conditions : je suis payé par réponse acceptée ; une réponse peut être vérifiée et rejetée avec un motif.",
    save: "Enregistrer", saved: "Enregistré.", projects: "Tâches", open_projects: "Projets ouverts pour vous", no_projects: "Aucun projet ne vous est ouvert pour l'instant.",
    reward: "{amount} par réponse", time_per_task: "{minutes} min par tâche", start: "Commencer", no_task_here: "Plus de tâche pour l'instant.", any_task: "Prendre la tâche suivante",
    instructions: "Consignes", submit: "Envoyer", skip_task: "Passer", no_task: "Aucune tâche disponible pour l'instant. Revenez plus tard.",
    time_left: "Temps restant : {time}", expired: "Cette tâche a expiré.", next: "Tâche suivante",
    prefetch: "Garder 3 tâches hors ligne", prefetched: "{n} tâches gardées pour travailler hors ligne.",
    history: "Historique", no_history: "Aucune réponse pour l'instant.", earnings: "Gains", earned: "Gagné", pending: "En attente de vérification",
    ledger: "Paiements", reliability: "Fiabilité", unknown: "pas encore connue", my_projects: "Par projet",
    answers_n: "Réponses : {n}", blocked: "Bloqué jusqu'au {date}", blocked_forever: "Bloqué",
    state_leased: "En cours", state_submitted: "En attente de vérification", state_approved: "Acceptée", state_rejected: "Rejetée",
    state_returned: "Passée", state_expired: "Expirée", reason: "Motif : {reason}",
    offline: "Hors ligne : les réponses sont gardées sur ce téléphone.", queued: "{n} réponse(s) en attente d'envoi.",
    sent: "Réponse envoyée.", sent_n: "{n} réponse(s) envoyée(s).", answer_failed: "Une réponse a été refusée : {message}",
    network: "Pas de réseau. Réessayez une fois en ligne.", required: "Répondez avant d'envoyer.", your_answer: "Votre réponse",
    choose_n: "Choisissez entre {min} et {max}.", boxes_help: "Faites glisser sur l'image pour entourer chaque objet.",
    boxes_keys: "Au clavier : les flèches déplacent, Entrée pose un coin puis l'autre.", box_label: "Étiquette du prochain cadre", boxes_drawn: "Cadres dessinés", remove: "Supprimer", undo: "Supprimer le dernier cadre",
    tie: "Aussi bons", left: "Gauche", right: "Droite", which_better: "Lequel est le meilleur ?",
    bonus: "Prime", reward_entry: "Rémunération", terms_needed: "Acceptez d'abord les conditions dans votre profil.",
    nav: "Principal", kind: "Type de tâche", all_kinds: "Tous", kind_single_choice: "Un choix", kind_multiple_choice: "Plusieurs choix",
    kind_number: "Un nombre", kind_rating: "Une note", kind_text: "Un texte", kind_pairwise: "Comparer deux", kind_boxes: "Cadres sur une image", error: "Une erreur est survenue : {message}", loading: "Chargement…",
  },
};

export const lang = (navigator.languages || [navigator.language || "en"])
  .map((l) => l.slice(0, 2).toLowerCase()).find((l) => l in STRINGS) || "en";

export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

export const money = (cents) => new Intl.NumberFormat(lang, { style: "currency", currency: "USD" }).format(cents / 100);
export const when = (ms) => new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));

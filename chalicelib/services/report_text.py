"""The words of a run's report (services.report) in each language a requester can choose, and
the number formats that go with them."""

LANGUAGES = ("en", "fr")

STRINGS = {
    "en": {
        "report": "Report", "run": "Run {run_id}, published {created}, method {method}.",
        "summary": "Summary",
        "asked": "You asked: “{title}” ({kind}).",
        "results": "{results} results from {answers} answers by {workers} workers ({tasks} tasks, {gold} of them gold).",
        "sure": "Median confidence {median}; {doubtful} results below {threshold} confidence.",
        "cost": "Spent {paid}, with {reserved} more committed{budget}; {per_result} per result.",
        "of_budget": " of a budget of {budget}", "no_budget": "",
        "look": "What to look at", "look_doubt": "the {count} results in most doubt (below).",
        "look_gold": "accuracy on gold is {accuracy}: check the instructions and the gold answers.",
        "look_ece": "the confidence is off by {ece} on average (calibration error).",
        "look_none": "nothing stands out.",
        "progress": "Progress and money",
        "f_answers": "Answers", "f_tasks": "Tasks", "f_complete": "Tasks complete", "f_open": "Tasks open",
        "f_pace": "Answers per hour (last 24 h)", "f_eta": "Time to completion at this pace",
        "f_paid": "Spent", "f_reserved": "Committed", "f_budget": "Budget", "f_remaining": "Budget left",
        "f_per_result": "Cost per result", "unlimited": "unlimited", "unknown": "—",
        "hours": "{n} h", "days": "{n} days",
        "c_pace": "Answers per {bucket} and tasks with all their answers", "hour": "hour", "day": "day",
        "s_answers": "answers", "s_done": "tasks done (cumulative)",
        "money_note": "Amounts in the project's currency (100 cents to the unit).",
        "distribution": "Results", "c_labels": "Results per answer", "c_numbers": "Histogram of the answers",
        "c_ranking": "Ranking of the items (score)", "c_confidence": "Confidence of the results",
        "s_tasks": "tasks", "s_workers": "workers",
        "doubt": "Tasks most in doubt", "doubt_note": "The {count} results with the lowest confidence (gold tasks left out).",
        "t_task": "Task", "t_payload": "Payload", "t_answer": "Result", "t_confidence": "Confidence",
        "t_given": "Answers given",
        "subjects": "Results by subject", "subjects_none": "Name payload fields in the project's "
                                                        "report.group_by to see the results per subject.",
        "t_group": "Value", "t_tasks": "Tasks", "t_mean_confidence": "Mean confidence", "other": "(other values)",
        "missing": "(none)", "by": "By {field}",
        "quality": "Quality", "f_gold_accuracy": "Accuracy on gold", "f_gold_answers": "Answers on gold",
        "f_agreement": "Answers agreeing with the result", "f_ece": "Calibration error (ECE)",
        "f_ece_before": "ECE before calibration", "no_gold": "no gold answers",
        "ece_note": "ECE: the average gap between the stated confidence and the share of correct results, "
                    "measured on gold tasks (0 is perfect).",
        "crowd": "The crowd", "c_reliability": "Reliability of the workers", "c_per_worker": "Answers per worker (top {count})",
        "least_reliable": "Least reliable workers", "t_worker": "Worker (pseudonym)", "t_answers": "Answers",
        "t_reliability": "Reliability",
        "noscript": "The charts need JavaScript; the figures and tables above are complete without it.",
    },
    "fr": {
        "report": "Rapport", "run": "Exécution {run_id}, publiée le {created}, méthode {method}.",
        "summary": "En bref",
        "asked": "Vous avez demandé : « {title} » ({kind}).",
        "results": "{results} résultats tirés de {answers} réponses de {workers} contributeurs "
                   "({tasks} tâches, dont {gold} de contrôle).",
        "sure": "Confiance médiane {median} ; {doubtful} résultats ont une confiance inférieure à {threshold}.",
        "cost": "Dépensé : {paid}, plus {reserved} engagés{budget} ; {per_result} par résultat.",
        "of_budget": " sur un budget de {budget}", "no_budget": "",
        "look": "À regarder", "look_doubt": "les {count} résultats les plus incertains (plus bas).",
        "look_gold": "la précision sur les tâches de contrôle est de {accuracy} : vérifiez les consignes "
                     "et les réponses de contrôle.",
        "look_ece": "la confiance s’écarte en moyenne de {ece} (erreur de calibration).",
        "look_none": "rien de particulier.",
        "progress": "Avancement et coût",
        "f_answers": "Réponses", "f_tasks": "Tâches", "f_complete": "Tâches terminées", "f_open": "Tâches ouvertes",
        "f_pace": "Réponses par heure (dernières 24 h)", "f_eta": "Fin estimée à ce rythme",
        "f_paid": "Dépensé", "f_reserved": "Engagé", "f_budget": "Budget", "f_remaining": "Budget restant",
        "f_per_result": "Coût par résultat", "unlimited": "illimité", "unknown": "—",
        "hours": "{n} h", "days": "{n} jours",
        "c_pace": "Réponses par {bucket} et tâches ayant toutes leurs réponses", "hour": "heure", "day": "jour",
        "s_answers": "réponses", "s_done": "tâches terminées (cumul)",
        "money_note": "Montants dans la monnaie du projet (100 centimes l’unité).",
        "distribution": "Résultats", "c_labels": "Résultats par réponse", "c_numbers": "Histogramme des réponses",
        "c_ranking": "Classement des éléments (score)", "c_confidence": "Confiance des résultats",
        "s_tasks": "tâches", "s_workers": "contributeurs",
        "doubt": "Tâches les plus incertaines",
        "doubt_note": "Les {count} résultats de plus faible confiance (hors tâches de contrôle).",
        "t_task": "Tâche", "t_payload": "Données", "t_answer": "Résultat", "t_confidence": "Confiance",
        "t_given": "Réponses données",
        "subjects": "Résultats par sujet", "subjects_none": "Nommez des champs des données dans "
                                                          "report.group_by du projet pour voir les résultats par sujet.",
        "t_group": "Valeur", "t_tasks": "Tâches", "t_mean_confidence": "Confiance moyenne",
        "other": "(autres valeurs)", "missing": "(aucune)", "by": "Par {field}",
        "quality": "Qualité", "f_gold_accuracy": "Précision sur le contrôle", "f_gold_answers": "Réponses de contrôle",
        "f_agreement": "Réponses d’accord avec le résultat", "f_ece": "Erreur de calibration (ECE)",
        "f_ece_before": "ECE avant calibration", "no_gold": "aucune réponse de contrôle",
        "ece_note": "ECE : l’écart moyen entre la confiance annoncée et la part de résultats justes, "
                    "mesuré sur les tâches de contrôle (0 : parfait).",
        "crowd": "Les contributeurs", "c_reliability": "Fiabilité des contributeurs",
        "c_per_worker": "Réponses par contributeur ({count} premiers)",
        "least_reliable": "Contributeurs les moins fiables", "t_worker": "Contributeur (pseudonyme)",
        "t_answers": "Réponses", "t_reliability": "Fiabilité",
        "noscript": "Les graphiques demandent JavaScript ; les chiffres et tableaux ci-dessus sont complets sans.",
    },
}

KINDS = {
    "en": {"single_choice": "single choice", "multiple_choice": "multiple choice", "number": "numbers",
           "rating": "ratings", "text": "text", "pairwise": "pairwise comparisons", "boxes": "boxes on images"},
    "fr": {"single_choice": "choix unique", "multiple_choice": "choix multiple", "number": "nombres",
           "rating": "notes", "text": "texte", "pairwise": "comparaisons par paires",
           "boxes": "cadres sur des images"},
}


def integer(value: int, language: str) -> str:
    text = f"{int(value):,}"
    return text.replace(",", "\u202f") if language == "fr" else text


def decimal(value: float, language: str, places: int = 2) -> str:
    text = f"{value:,.{places}f}"
    if language == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def percent(value: float | None, language: str) -> str:
    if value is None:
        return STRINGS[language]["unknown"]
    return decimal(100 * value, language, 1) + ("\u202f%" if language == "fr" else "%")


def money(cents: int | float | None, language: str) -> str:
    if cents is None:
        return STRINGS[language]["unknown"]
    return decimal(cents / 100, language, 2)
